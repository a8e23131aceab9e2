// Replays a finished or parked saga from what PostgreSQL kept: its input (its
// definition recovers it from the final snapshot's context) and the
// XState event each history row applied (`saga_history.detail.event`). The
// pure `transition()` recomputes every snapshot, so the inspector shows the
// run exactly as the runner made it. Rows without an event (OrderPlaced,
// released, operator requests, errors) changed nothing in the machine.
import { transition } from "xstate";
import type { AnyEventObject, AnyStateMachine } from "xstate";
import type { SagaDefinition } from "../../machines/saga_definition.ts";
import { type SagaSnapshot, startSaga, statePath } from "../engine/saga_state.ts";
import { inspected, type SagaFrame, transitionFrames } from "./frames.ts";

export interface HistoryRow {
  event: string;
  to: string;
  detail: unknown;
}

export interface Replay {
  frames: SagaFrame[];
  /** The last recomputed snapshot. */
  final: SagaSnapshot;
  /** Rows whose recomputed state differs from the recorded one (e.g. another machine version). */
  divergences: string[];
}

/** The saga's input, recovered by its definition from any of its persisted snapshots. */
export function inputFrom(definition: SagaDefinition, snapshot: unknown): unknown {
  return definition.start.inputFromContext((snapshot as { context?: unknown } | null)?.context);
}

export function replayFrames(
  rows: readonly HistoryRow[],
  machine: AnyStateMachine,
  input: unknown,
): Replay {
  let snap: SagaSnapshot = startSaga(machine, input).snapshot;
  const frames: SagaFrame[] = [{ type: "@xstate.actor", snapshot: inspected(snap) }];
  const divergences: string[] = [];
  for (const [i, row] of rows.entries()) {
    const event = (row.detail as { event?: AnyEventObject } | null)?.event;
    if (!event?.type) continue;
    [snap] = transition(machine, snap, event as never);
    frames.push(...transitionFrames(event, snap));
    const at = statePath(snap.value);
    if (at !== row.to) {
      divergences.push(`row ${i + 1} (${row.event}): recorded ${row.to}, got ${at}`);
    }
  }
  return { frames, final: snap, divergences };
}
