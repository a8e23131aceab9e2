// Pure helpers between XState snapshots and ledger rows: restore, status,
// state names, and the pending work a transition asks for. The runner never
// lets XState run effects itself: an invoke becomes a step to execute, an
// `after` becomes a deadline stored in PostgreSQL.
import type { AnyMachineSnapshot } from "xstate";
import type { OrderSagaMachine, SagaContext, SagaInput } from "../../machines/order_saga.ts";
import type { StepInput, StepName } from "../../machines/order_types.ts";
import { SnapshotError } from "../errors.ts";
import { pureInitialTransition } from "./pure_transition.ts";
import { snapshotUpgrade } from "../../machines/registry.ts";

export type SagaSnapshot = ReturnType<OrderSagaMachine["resolveState"]>;

export type Pending =
  | { kind: "step"; step: StepName; invokeId: string; input: StepInput }
  | { kind: "timer"; event: { type: string }; delayMs: number };

export type LedgerStatus = "RUNNING" | "COMPLETED" | "CANCELLED" | "NEEDS_ATTENTION";

interface ExecutableAction {
  type: string;
  params?: unknown;
}

/** The work the actions of one transition ask for (at most one by construction). */
export function pendingFrom(actions: readonly ExecutableAction[]): Pending | null {
  for (const a of actions) {
    const p = a.params as Record<string, unknown> | undefined;
    if (a.type === "xstate.spawnChild" && p && typeof p.src === "string") {
      return {
        kind: "step",
        step: p.src as StepName,
        invokeId: String(p.id),
        input: p.input as StepInput,
      };
    }
    if (a.type === "xstate.raise" && p && typeof p.delay === "number") {
      return { kind: "timer", event: p.event as { type: string }, delayMs: p.delay };
    }
  }
  return null;
}

export function startSaga(machine: OrderSagaMachine, input: SagaInput) {
  const [snapshot, actions] = pureInitialTransition(machine, input);
  return { snapshot, pending: pendingFrom(actions) };
}

/**
 * Rebuilds a snapshot from its persisted form, upgraded first where its
 * version says how (registry.ts). `resolveState` validates the
 * state value against this machine version and throws on a state that does
 * not exist, instead of producing an actor that errors later.
 */
export function restoreSnapshot(
  machine: OrderSagaMachine,
  persisted: { value: unknown; context: unknown },
): SagaSnapshot {
  try {
    const upgraded = snapshotUpgrade(machine)?.(persisted) ?? persisted;
    return machine.resolveState({
      value: upgraded.value as never,
      context: upgraded.context as SagaContext,
    });
  } catch (err) {
    throw new SnapshotError(`Snapshot does not load: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * What the ledger stores: XState's persisted form, without live children.
 * Built directly, because getPersistedSnapshot() walks the whole context
 * looking for actor references and persists the children we drop anyway: a
 * saga's context is plain data. Only a machine with history states needs
 * XState's own serialisation (test/engine/pure_transition_test.ts checks the
 * two agree on every edge of the saga graph).
 */
export function persistable(machine: OrderSagaMachine, snapshot: AnyMachineSnapshot): unknown {
  const { status, output, error, value, historyValue, context } = snapshot;
  if (historyValue && Object.keys(historyValue).length > 0) {
    const p = machine.getPersistedSnapshot(snapshot as never) as Record<string, unknown>;
    return { ...p, children: {} };
  }
  return { status, output, error, value, historyValue: {}, context, children: {} };
}

/** Dotted path of the active leaf, e.g. `reservingInventory.waiting`. */
export function statePath(value: unknown): string {
  if (typeof value === "string") return value;
  const [key, child] = Object.entries(value as Record<string, unknown>)[0] ?? ["?", ""];
  const rest = statePath(child);
  return rest ? `${key}.${rest}` : key;
}

/** The top-level state, e.g. `capturingPayment` (the ledger's `state` column). */
export function stateName(value: unknown): string {
  return statePath(value).split(".")[0] ?? "";
}

/**
 * The ledger statuses a saga in top-level state `state` can have: a final
 * state's one status, or RUNNING and NEEDS_ATTENTION for any other (a saga
 * parked by an unexpected error keeps the state it was in). Lets a listing
 * filtered by state read only the rows that can match, not every finished one.
 */
export function statusesInState(
  state: string,
  machines: readonly OrderSagaMachine[],
): LedgerStatus[] {
  const found = new Set<LedgerStatus>();
  for (const machine of machines) {
    const node = (machine.root.states as Record<string, { type?: string } | undefined>)[state];
    if (node?.type === "final") {
      found.add(statusOf({ status: "done", value: state } as AnyMachineSnapshot));
    }
  }
  return found.size > 0 ? [...found] : ["RUNNING", "NEEDS_ATTENTION"];
}

export function statusOf(snapshot: AnyMachineSnapshot): LedgerStatus {
  const name = stateName(snapshot.value);
  if (snapshot.status === "done") return name === "cancelled" ? "CANCELLED" : "COMPLETED";
  if (name === "needsAttention") return "NEEDS_ATTENTION";
  return "RUNNING";
}
