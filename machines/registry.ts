// Every machine version that may still own a persisted snapshot. In-flight
// sagas finish on the version they started with, so a version stays here
// until no RUNNING or NEEDS_ATTENTION row names it (`deno task check-snapshots`).
import { ORDER_SAGA_VERSION, orderSagaV1 } from "./order_saga.ts";
import type { OrderSagaMachine } from "./order_saga.ts";

export const CURRENT_SAGA_VERSION = ORDER_SAGA_VERSION;

const versions = new Map<string, OrderSagaMachine>([[ORDER_SAGA_VERSION, orderSagaV1]]);

export function sagaMachine(version: string): OrderSagaMachine | undefined {
  return versions.get(version);
}

export function sagaVersions(): string[] {
  return [...versions.keys()];
}

/** For tests of version changes: register another version of the saga. */
export function registerSagaVersion(version: string, machine: OrderSagaMachine): void {
  versions.set(version, machine);
}
