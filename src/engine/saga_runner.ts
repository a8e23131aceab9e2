// Runs one claimed saga until it waits, parks, finishes or loses its lease.
//
// Each turn: pick the next event (an operator RETRY, a CANCEL, a due timer,
// the ATTEMPT a write-ahead step asks for before its request leaves, or the
// outcome of the pending step, calling downstream only when no success is
// recorded), compute the next snapshot with XState's pure
// `transition()`, and persist snapshot + pending work + step outcome +
// history in one fenced statement *before* acting on it (group-committed with
// the transitions other sagas make at the same moment: transition_writer.ts).
// A crash before that commit repeats the call with the same Idempotency-Key;
// a crash after it never repeats the call.
//
// The machine decides everything about the saga: the runner only asks it
// (`can`) whether an event applies. An event the machine does not handle
// (a version edited in place, say) parks the saga with the reason instead of
// writing the same pending work back forever.
import type { Sql } from "../db/client.ts";
import type { ClaimedSaga } from "../db/claims.ts";
import { type HistoryLine, parkSaga, type Persisted, type Transition } from "../db/transitions.ts";
import type { Logger } from "../log.ts";
import { sagaVersion } from "../../machines/registry.ts";
import type { StepOutput } from "../../machines/saga_definition.ts";
import { SnapshotError } from "../errors.ts";
import { crashPoint } from "../crash_points.ts";
import { invokeInput, pureTransition } from "./pure_transition.ts";
import { storedBody, storedEvent } from "./stored_outcome.ts";
import {
  type RequestedWork,
  requestedWorkOf,
  restoreSnapshot,
  type SagaSnapshot,
  stateName,
  statePath,
  toStoredSnapshot,
} from "./saga_state.ts";

/** One call of a step: which saga (its id is the Idempotency-Key's first half), which step, with what. */
export interface StepCall {
  orderId: string;
  /** The saga's machine_version: its definition declares the step. */
  version: string;
  step: string;
  /** The invoke's input, as the machine computed it. */
  input: unknown;
}

/** The work a saga waits for: a step to call, or a timer with its deadline (epoch ms). */
export type Work =
  | Extract<RequestedWork, { kind: "step" }>
  | { kind: "timer"; event: { type: string }; at: number };

/**
 * Work as the ledger's `pending` column holds it: a step without its input,
 * which repeats the context and is computed again on resume (rows written
 * before that change still carry it).
 */
export type StoredWork =
  | Omit<Extract<Work, { kind: "step" }>, "input"> & { input?: unknown }
  | Extract<Work, { kind: "timer" }>;

/** What one persisted transition looked like, for metrics, traces and the inspector. */
export interface TransitionInfo {
  orderId: string;
  machineVersion: string;
  /** Short name, as in saga_history.event: `capturePayment:ok`, `CANCEL`, `retryDue` (a retry wait ended), `RETRY` (an operator). */
  name: string;
  /** The XState event that was applied. */
  event: { type: string } & Record<string, unknown>;
  from: string;
  to: string;
  /** The persisted snapshot after the transition. */
  snapshot: unknown;
}

export interface SagaHooks {
  onStarted?(count: number): void;
  onStep?(step: string, outcome: string, seconds: number): void;
  onTransition?(info: TransitionInfo): void;
  onFinished?(status: string): void;
}

export interface RunnerDeps {
  sql: Sql;
  /**
   * Commits one transition (group-committed with other sagas'); null when the
   * lease was lost. Rejects unwritten if `signal` aborts before it is sent.
   */
  write(t: Transition, signal?: AbortSignal): Promise<Persisted | null>;
  logger: Logger;
  instanceId: string;
  execute(call: StepCall, attempt: number, signal: AbortSignal): Promise<StepOutput>;
  /** Ask the supervisor to wake up at this time (a retry deadline, on the database's clock). */
  wakeAt(at: number): void;
  /** True once shutdown began: finish the step in flight, start no new one. */
  stopping?(): boolean;
  /** The database's clock (db_clock.ts): deadlines are compared with its now(). */
  now?: () => number;
  hooks?: SagaHooks;
}

type SagaEventObject = { type: string } & Record<string, unknown>;

const PERSIST_TRIES = 5;

function toWork(p: RequestedWork | null, now: number): Work | null {
  if (p?.kind === "timer") return { kind: "timer", event: p.event, at: now + p.delayMs };
  return p;
}

function stored(w: Work | StoredWork | null): StoredWork | null {
  if (w?.kind !== "step") return w;
  return { kind: "step", step: w.step, invokeId: w.invokeId };
}

export async function runSaga(
  row: ClaimedSaga,
  deps: RunnerDeps,
  signal: AbortSignal,
): Promise<void> {
  try {
    await runTurns(row, deps, signal);
  } catch (err) {
    if (signal.aborted) return;
    // A bug or a corrupt snapshot: park it for an operator instead of letting
    // the lease expire and the next instance hit the same error forever.
    const log = deps.logger.child({ order_id: row.order_id });
    await park(row, deps, log, `unexpected error: ${(err as Error).message ?? err}`, "unknown");
  }
}

async function runTurns(
  row: ClaimedSaga,
  deps: RunnerDeps,
  signal: AbortSignal,
): Promise<void> {
  const now = deps.now ?? Date.now;
  const log = deps.logger.child({ order_id: row.order_id });
  const version = sagaVersion(row.machine_version);
  let snap: SagaSnapshot;
  try {
    if (!version) throw new SnapshotError(`unknown machine_version "${row.machine_version}"`);
    snap = restoreSnapshot(version, row.snapshot);
  } catch (err) {
    await park(row, deps, log, String((err as Error).message), "unknown");
    return;
  }
  const { machine, definition } = version!;
  const statusOf = (s: SagaSnapshot) => definition.statusOf(s);

  let fence = { epoch: row.lease_epoch, revision: row.revision };
  let pending: Work | StoredWork | null = row.pending as StoredWork | null;
  let cancel = { requested: row.cancel_requested, reason: row.cancel_reason ?? "" };
  let retryRequested = row.retry_requested;
  const attempt = { type: "ATTEMPT" } as const;
  // Resumed inside a call whose outcome was never recorded: it may have
  // happened, so finish it before delivering anything else. Unless the
  // machine still asks for the ATTEMPT that is persisted before such a
  // request leaves: then it never left.
  let inDoubt = pending?.kind === "step" && !snap.can(attempt);
  let cancelHandled = false;

  while (!signal.aborted) {
    // Draining: what is persisted stands; releaseLeases hands it on.
    if (deps.stopping?.()) return;
    let event: SagaEventObject;
    let step: Transition["step"] = null;
    let historyEvent: string;
    let detail: unknown = null;
    const status = statusOf(snap);

    if (status === "NEEDS_ATTENTION") {
      if (!retryRequested) return await release(snap, pending);
      event = { type: "RETRY" };
      historyEvent = "RETRY";
    } else if (status !== "RUNNING") {
      return await release(snap, pending);
    } else if (
      cancel.requested && !cancelHandled && !inDoubt && !definition.cancel.taken(snap) &&
      snap.can(definition.cancel.event(cancel.reason))
    ) {
      event = definition.cancel.event(cancel.reason);
      historyEvent = event.type;
      detail = { reason: cancel.reason };
      cancelHandled = true;
    } else if (pending?.kind === "timer") {
      if (pending.at > now()) return await release(snap, pending);
      event = pending.event;
      historyEvent = "retryDue";
    } else if (pending?.kind === "step" && snap.can(attempt)) {
      // Write-ahead: the fact that this request is about to leave is
      // committed before it does, so no crash or operator can forget it.
      event = attempt;
      historyEvent = attemptName(pending.step);
    } else if (pending?.kind === "step") {
      const recorded = row.done_steps[pending.step];
      const started = performance.now();
      let out: StepOutput;
      if (recorded) {
        out = { outcome: "ok", status: recorded.status ?? 200, body: recorded.body };
        log.info({ step: pending.step }, "Step outcome already recorded; not calling again");
      } else {
        try {
          crashPoint(`before_call:${pending.step}`);
          // Resumed from the ledger, the step's input is computed again from the snapshot.
          const input = pending.input ?? invokeInput(snap as never, pending.invokeId);
          out = await deps.execute(
            { orderId: row.order_id, version: row.machine_version, step: pending.step, input },
            definition.attempts(snap),
            signal,
          );
          crashPoint(`after_call:${pending.step}`);
        } catch (err) {
          if (signal.aborted) return; // lease lost or hard shutdown: someone resumes it
          throw err;
        }
        deps.hooks?.onStep?.(pending.step, out.outcome, (performance.now() - started) / 1000);
        if (out.outcome !== "transient") {
          step = {
            name: pending.step,
            outcome: out.outcome,
            httpStatus: out.status,
            body: storedBody(out.body),
          };
        }
      }
      // A success is in saga_history and the metrics; a line per step at info
      // cost ~12 % of the CPU per saga (measured), so only failures get one.
      if (out.outcome === "ok") {
        log.debug(
          { step: pending.step, outcome: out.outcome, status: out.status },
          "Step finished",
        );
      } else {
        log.info(
          { step: pending.step, outcome: out.outcome, status: out.status, reason: out.reason },
          "Step finished",
        );
      }
      event = { type: `xstate.done.actor.${pending.invokeId}`, output: out };
      historyEvent = `${pending.step}:${out.outcome}`;
      detail = out.outcome === "ok"
        ? { status: out.status }
        : { status: out.status ?? null, reason: out.reason };
    } else {
      await park(row, deps, log, "saga is running but has nothing to do", stateName(snap.value));
      return;
    }

    if (!snap.can(event as never)) {
      // Applying it would change nothing, and the same work would be written
      // back and tried again forever: an operator must look at this saga.
      const why = `machine version "${row.machine_version}" does not handle event "${event.type}"` +
        ` in state "${statePath(snap.value)}"`;
      await park(row, deps, log, why, stateName(snap.value));
      return;
    }
    const [next, actions] = pureTransition(machine, snap as never, event);
    let nextPending: Work | StoredWork | null = toWork(requestedWorkOf(actions), now());
    // A targetless transition (a cancellation noted during the capture) keeps the work it had.
    if (!nextPending && statePath(next.value) === statePath(snap.value)) nextPending = pending;
    const nextStatus = statusOf(next);
    const leaving = nextStatus !== "RUNNING" || nextPending?.kind === "timer";
    const from = statePath(snap.value);
    const to = statePath(next.value);
    const line = historyLine(historyEvent, event, from, to, detail);
    // The write-ahead of the step the saga waits for next rides in this same
    // commit, saving the saga one commit of five: it is still committed before
    // its request leaves. Not when a cancellation is known (it comes first),
    // nor while draining (no request leaves). A cancellation recorded since
    // the last write refuses the pair, and it is written apart as before.
    let ahead = nextStatus === "RUNNING" && nextPending?.kind === "step" && !cancel.requested &&
        !deps.stopping?.() && next.can(attempt)
      ? writeAhead(next, nextPending.step, to)
      : null;
    const persistedNext = toStoredSnapshot(machine, next);
    const transition = (withAhead: boolean): Transition => ({
      orderId: row.order_id,
      me: deps.instanceId,
      epoch: fence.epoch,
      revision: fence.revision,
      snapshot: withAhead ? ahead!.persisted : persistedNext,
      state: stateName(next.value),
      status: nextStatus,
      pending: stored(nextPending),
      release: leaving,
      runAt: nextPending?.kind === "timer" ? new Date(nextPending.at) : null,
      // Set by every operator retry; spent by the first write after it.
      clearRetry: retryRequested,
      lastError: null,
      step,
      history: withAhead ? [line, ahead!.line] : [line],
      unlessCancelled: withAhead,
    });

    let result = await persist(transition(ahead !== null));
    if (result?.refused) {
      ahead = null;
      result = await persist(transition(false));
    }
    if (!result || result.refused) return;
    const applied = [{ name: historyEvent, event, from, to, snapshot: persistedNext }];
    if (ahead) {
      applied.push({
        name: ahead.line.event,
        event: attempt,
        from: to,
        to,
        snapshot: ahead.persisted,
      });
    }
    for (const a of applied) {
      deps.hooks?.onTransition?.({
        orderId: row.order_id,
        machineVersion: row.machine_version,
        ...a,
      });
    }
    fence = { epoch: fence.epoch, revision: result.revision };
    cancel = { requested: result.cancel_requested, reason: result.cancel_reason ?? "" };
    retryRequested = false;
    if (step?.outcome === "ok") {
      row.done_steps[step.name] = { status: step.httpStatus, body: step.body };
    }
    snap = ahead?.snapshot ?? next;
    pending = nextPending;
    inDoubt = false;

    if (nextStatus !== "RUNNING") {
      deps.hooks?.onFinished?.(nextStatus);
      if (nextStatus === "NEEDS_ATTENTION") {
        // Nothing moves this saga again until an operator acts: say so where they look.
        log.warn(
          { from, event: historyEvent, ...(detail ?? {}) },
          "Saga is NEEDS_ATTENTION: it needs an operator to retry or resolve it",
        );
      } else {
        log.info({ status: nextStatus, state: stateName(next.value) }, "Saga finished");
      }
      return;
    }
    if (nextPending?.kind === "timer") {
      deps.wakeAt(nextPending.at);
      return;
    }
  }

  /** `s` with the ATTEMPT of its pending `stepName` applied: the write-ahead, as its own history line. */
  function writeAhead(s: SagaSnapshot, stepName: string, state: string) {
    const [snapshot] = pureTransition(machine, s as never, attempt);
    return {
      snapshot: snapshot as SagaSnapshot,
      persisted: toStoredSnapshot(machine, snapshot),
      line: historyLine(attemptName(stepName), attempt, state, state, null),
    };
  }

  /** Writes a snapshot, retrying database hiccups; null when the lease is gone. */
  async function persist(t: Transition) {
    for (let attempt = 1;; attempt++) {
      try {
        crashPoint("before_persist");
        const r = await deps.write(t, signal);
        crashPoint("after_persist");
        if (!r) {
          log.warn("Lease lost: another instance owns this saga now; stopping it here");
          return null;
        }
        return r;
      } catch (err) {
        if (attempt >= PERSIST_TRIES || signal.aborted) {
          log.error({ err: String(err) }, "Could not persist the saga; leaving it to its lease");
          return null;
        }
        const delayMs = 100 * 2 ** attempt;
        // Each retry delays the saga by this much: said, so a slow saga can be explained.
        log.warn(
          { err: String(err), attempt, retry_in_ms: delayMs },
          "Could not persist the saga; retrying",
        );
        await new Promise((r) => setTimeout(r, delayMs));
      }
    }
  }

  /** Gives the saga back without changing it (waiting, or nothing to do now). */
  async function release(s: SagaSnapshot, p: Work | StoredWork | null): Promise<void> {
    const r = await persist({
      orderId: row.order_id,
      me: deps.instanceId,
      epoch: fence.epoch,
      revision: fence.revision,
      snapshot: toStoredSnapshot(machine, s),
      state: stateName(s.value),
      status: statusOf(s),
      pending: stored(p),
      release: true,
      runAt: p?.kind === "timer" ? new Date(p.at) : null,
      clearRetry: false,
      lastError: null,
      step: null,
      history: [{
        event: "released",
        from: statePath(s.value),
        to: statePath(s.value),
        detail: null,
      }],
    });
    if (r && p?.kind === "timer") deps.wakeAt(p.at);
  }
}

/** The history line of the write-ahead before `step`'s request. */
const attemptName = (step: string) => `${step}:attempt`;

/**
 * The saga_history line for `event` applied as `name`. The event is kept
 * (minus a response body no transition reads), so a saga can be replayed
 * exactly from its input and its history.
 */
function historyLine(
  name: string,
  event: { type: string },
  from: string,
  to: string,
  detail: unknown,
): HistoryLine {
  return { event: name, from, to, detail: { ...(detail ?? {}), event: storedEvent(event) } };
}

async function park(
  row: ClaimedSaga,
  deps: RunnerDeps,
  log: Logger,
  error: string,
  state: string,
): Promise<void> {
  log.error({ error }, "Saga parked as NEEDS_ATTENTION after an unexpected error");
  await parkSaga(deps.sql, {
    orderId: row.order_id,
    me: deps.instanceId,
    epoch: row.lease_epoch,
    error,
    state,
  }).catch((err) => log.error({ err: String(err) }, "Could not park the saga"));
  deps.hooks?.onFinished?.("NEEDS_ATTENTION");
}
