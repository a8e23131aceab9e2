// Every machine version that may still own a persisted snapshot. In-flight
// sagas finish on the version they started with, so a version stays here
// until no RUNNING or NEEDS_ATTENTION row names it (`deno task check-snapshots`
// tells). New sagas start on the current version.
import { ORDER_SAGA_VERSION, orderSagaV1, upgradeOrderSaga } from "./order_saga.ts";
import type { OrderSagaMachine } from "./order_saga.ts";

/** The version this release starts new sagas on (unless another is registered as current). */
export const CURRENT_SAGA_VERSION = ORDER_SAGA_VERSION;

/** Fills in what older persisted snapshots of a version lack (a pure function). */
export type SnapshotUpgrade = (
  persisted: { value: unknown; context: unknown },
) => { value: unknown; context: unknown };

const versions = new Map<string, OrderSagaMachine>([[ORDER_SAGA_VERSION, orderSagaV1]]);
const upgrades = new WeakMap<OrderSagaMachine, SnapshotUpgrade>([[orderSagaV1, upgradeOrderSaga]]);
let current = ORDER_SAGA_VERSION;

export function currentSagaVersion(): string {
  return current;
}

export function sagaMachine(version: string): OrderSagaMachine | undefined {
  return versions.get(version);
}

/** How a persisted snapshot of `machine` is brought up to date before it is restored. */
export function snapshotUpgrade(machine: OrderSagaMachine): SnapshotUpgrade | undefined {
  return upgrades.get(machine);
}

export function sagaVersions(): string[] {
  return [...versions.keys()];
}

/**
 * Registers another version (a new release of the saga, or a test's).
 * With `current`, new sagas start on it; older versions stay registered.
 */
export function registerSagaVersion(
  version: string,
  machine: OrderSagaMachine,
  opts: { current?: boolean; upgrade?: SnapshotUpgrade } = {},
): void {
  versions.set(version, machine);
  if (opts.upgrade) upgrades.set(machine, opts.upgrade);
  if (opts.current) current = version;
}

/** Test support: forget a version (to simulate a release that dropped it). */
export function unregisterSagaVersion(version: string): void {
  versions.delete(version);
  if (current === version) current = ORDER_SAGA_VERSION;
}
