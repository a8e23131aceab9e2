// Pure helpers between XState snapshots and ledger rows: restore, state
// names, and the pending work a transition asks for. The runner never lets
// XState run effects itself: an invoke becomes a step to execute, an `after`
// becomes a deadline stored in PostgreSQL. What a snapshot means (its ledger
// status, what an operator may do) is its definition's to say (machines/).
import type { AnyMachineSnapshot, AnyStateMachine } from "xstate";
import type { LedgerStatus } from "../../machines/saga_definition.ts";
import { SnapshotError } from "../errors.ts";
import { pureInitialTransition } from "./pure_transition.ts";
import type { RegisteredVersion } from "../../machines/registry.ts";

export type SagaSnapshot = AnyMachineSnapshot;
export type { LedgerStatus };

export type RequestedWork =
  | { kind: "step"; step: string; invokeId: string; input: unknown }
  | { kind: "timer"; event: { type: string }; delayMs: number };

interface ExecutableAction {
  type: string;
  params?: unknown;
}

/** The work the actions of one transition ask for (at most one by construction). */
export function requestedWorkOf(actions: readonly ExecutableAction[]): RequestedWork | null {
  for (const a of actions) {
    const p = a.params as Record<string, unknown> | undefined;
    if (a.type === "xstate.spawnChild" && p && typeof p.src === "string") {
      return { kind: "step", step: p.src, invokeId: String(p.id), input: p.input };
    }
    if (a.type === "xstate.raise" && p && typeof p.delay === "number") {
      return { kind: "timer", event: p.event as { type: string }, delayMs: p.delay };
    }
  }
  return null;
}

export function startSaga(machine: AnyStateMachine, input: unknown) {
  const [snapshot, actions] = pureInitialTransition(machine, input);
  return { snapshot: snapshot as SagaSnapshot, pending: requestedWorkOf(actions) };
}

/**
 * Rebuilds a snapshot from its persisted form, upgraded first where its
 * version says how (its definition). `resolveState` validates the state value
 * against this machine version and throws on a state that does not exist,
 * instead of producing an actor that errors later.
 */
export function restoreSnapshot(
  version: Pick<RegisteredVersion, "machine" | "upgrade">,
  persisted: { value: unknown; context: unknown },
): SagaSnapshot {
  try {
    const upgraded = version.upgrade?.(persisted) ?? persisted;
    return version.machine.resolveState({
      value: upgraded.value as never,
      context: upgraded.context as never,
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
export function toStoredSnapshot(machine: AnyStateMachine, snapshot: AnyMachineSnapshot): unknown {
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
 * state's one status (its definition says which), or RUNNING and
 * NEEDS_ATTENTION for any other (a saga parked by an unexpected error keeps
 * the state it was in). Lets a listing filtered by state read only the rows
 * that can match, not every finished one.
 */
export function statusesInState(
  state: string,
  versions: readonly Pick<RegisteredVersion, "definition" | "machine">[],
): LedgerStatus[] {
  const found = new Set<LedgerStatus>();
  let other = false;
  for (const { definition, machine } of versions) {
    const node = (machine.root.states as Record<string, { type?: string } | undefined>)[state];
    if (node?.type === "final") {
      found.add(definition.statusOf({ status: "done", value: state } as AnyMachineSnapshot));
    } else if (node) other = true;
  }
  const unfinished: LedgerStatus[] = ["RUNNING", "NEEDS_ATTENTION"];
  if (found.size === 0 || other) return [...new Set([...found, ...unfinished])];
  return [...found];
}
