// Intake: outbox events become saga state, one batch per transaction.
//
// Claim a batch (FOR UPDATE SKIP LOCKED), validate, insert a new saga for each
// event that starts one (of whichever saga type starts on its event_type; a
// duplicate is a no-op), record cancellation requests on existing sagas, and record
// every event (PROCESSED / DEAD / deferred) — all in the same transaction, so
// an event is applied exactly when it is marked. Intake never waits on HTTP
// and never needs a saga's lease.
//
// If a batch fails because of its data (one event that breaks a statement),
// each event is retried on its own so one bad event cannot hold up the
// others; an event that keeps failing is dead-lettered after
// OUTBOX_MAX_ATTEMPTS tries. If it fails because of the database (a lock, a
// timeout, a restart), nothing is counted against any event: the batch is
// simply tried again at the next wake-up (src/db/errors.ts says which is which).
// A cancellation whose saga row is locked by another session right now is
// deferred for a moment, also without counting.
import type { Sql, TransactionSql } from "../db/client.ts";
import type { ClaimedSaga } from "../db/claims.ts";
import {
  asyncCommit,
  type CancelRequest,
  claimOutbox,
  claimOutboxEvent,
  type EventDisposition,
  insertSagas,
  type NewSaga,
  type OutboxRow,
  pendingOutboxIds,
  recordDispositions,
  recordIntakeFailure,
  requestCancels,
} from "../db/intake_queries.ts";
import type { Logger } from "../log.ts";
import { PoisonEventError } from "../errors.ts";
import { isEventFault } from "../db/errors.ts";
import { validateEvent } from "./validate.ts";
import { crashPoint } from "../crash_points.ts";
import { startSaga, stateName, toStoredSnapshot } from "./saga_state.ts";
import { currentVersion, sagaVersion, sagaVersions } from "../../machines/registry.ts";
import type { RetryBudget, SagaDefinition } from "../../machines/saga_definition.ts";

export interface IntakeOptions {
  sql: Sql;
  logger: Logger;
  instanceId: string;
  batchSize: number;
  maxAttempts: number;
  leaseMs: number;
  budget: RetryBudget;
  /** How many new sagas this instance can start right away (it leases them at insert). */
  capacity: () => number;
  /** Runs in the batch's transaction, pipelined with the claim (the wake-up gate's disarm). */
  alongside?: (tx: TransactionSql) => Promise<unknown>;
}

export interface IntakeResult {
  events: number;
  started: number;
  duplicates: number;
  dead: number;
  /** Sagas inserted already leased to this instance, as a claim returns them: run them now. */
  claimed: ClaimedSaga[];
}

/** Every registered version of `definition`: its sagas, whichever version they started on. */
function registeredVersionsOf(definition: SagaDefinition): string[] {
  return sagaVersions().filter((v) => sagaVersion(v)?.definition.name === definition.name);
}

const sagaTypeName = (versions: string[]) =>
  sagaVersion(versions[0] ?? "")?.definition.name ?? "known";

/** Delay before a cancellation for a saga that does not exist yet is retried. */
const UNKNOWN_ORDER_RETRY_MS = 1000;
/** Delay before a cancellation whose saga row was locked elsewhere is tried again. */
const BUSY_ROW_RETRY_MS = 250;

const processed = (id: string): EventDisposition => ({
  id,
  status: "PROCESSED",
  error: null,
  delay_ms: 0,
  counts: true,
});

async function applyBatch(
  tx: TransactionSql,
  events: OutboxRow[],
  opts: IntakeOptions,
): Promise<IntakeResult> {
  const dispositions = new Map<string, EventDisposition>();
  const newSagas = new Map<string, NewSaga>();
  const cancels: Array<CancelRequest & { eventId: string }> = [];
  let free = Math.max(0, opts.capacity());
  let placed = 0;
  let claimable: Array<{ order_id: string; lease_epoch: string; revision: string }> = [];
  const appliedCancels = new Map<string, string>();
  const result: IntakeResult = {
    events: events.length,
    started: 0,
    duplicates: 0,
    dead: 0,
    claimed: [],
  };

  for (const ev of events) {
    try {
      const valid = validateEvent(ev.event_type, ev.order_id, ev.payload);
      if (valid.kind === "start") {
        dispositions.set(ev.id, processed(ev.id));
        placed++;
        if (newSagas.has(valid.sagaId)) continue; // duplicate within the batch
        const version = currentVersion(valid.definition);
        const machine = sagaVersion(version)!.machine;
        const input = valid.definition.start.input(valid.payload as never, { budget: opts.budget });
        const { snapshot, pending } = startSaga(machine, input);
        newSagas.set(valid.sagaId, {
          order_id: valid.sagaId,
          state: stateName(snapshot.value),
          snapshot: toStoredSnapshot(machine, snapshot),
          machine_version: version,
          pending,
          source_event_id: ev.id,
          event_type: ev.event_type,
          claim: free-- > 0,
        });
      } else {
        cancels.push({
          order_id: valid.sagaId,
          reason: valid.reason,
          requested_by: valid.requestedBy,
          event_type: ev.event_type,
          versions: registeredVersionsOf(valid.definition),
          eventId: ev.id,
        });
      }
    } catch (err) {
      if (!(err instanceof PoisonEventError)) throw err;
      dispositions.set(ev.id, {
        id: ev.id,
        status: "DEAD",
        error: err.message,
        delay_ms: 0,
        counts: true,
      });
      result.dead++;
      opts.logger.warn(
        { event_id: ev.id, order_id: ev.order_id, reason: err.message },
        "Outbox event dead-lettered",
      );
    }
  }

  // Statements on one transaction are pipelined by postgres.js when issued
  // together: without cancellations every event's fate is already known, so
  // the insert and the dispositions go out in one round trip.
  const insert = newSagas.size > 0
    ? insertSagas(tx, [...newSagas.values()], opts.instanceId, opts.leaseMs)
    : Promise.resolve([]);
  let recorded: Promise<unknown> | undefined;
  if (cancels.length === 0) {
    crashPoint("before_settle_outbox");
    recorded = recordDispositions(tx, [...dispositions.values()]);
    // If the insert fails first, this one fails too and is never awaited:
    // the insert's error is the one reported.
    recorded.catch(() => {});
  }
  const inserted = await insert;
  result.started = inserted.length;
  result.duplicates = placed - inserted.length;
  claimable = inserted.filter((r) => r.claimed);
  if (cancels.length > 0) {
    const outcome = await requestCancels(tx, cancels, opts.instanceId);
    const byOrder = new Map(outcome.map((r) => [r.order_id, r]));
    for (const c of cancels) {
      const found = byOrder.get(c.order_id);
      const ev = events.find((e) => e.id === c.eventId)!;
      if (found?.outcome === "recorded") {
        dispositions.set(c.eventId, processed(c.eventId));
        if (!appliedCancels.has(c.order_id)) appliedCancels.set(c.order_id, c.reason);
      } else if (found?.outcome === "busy") {
        // Someone else holds the saga's row (an operator's transaction): never wait for it.
        dispositions.set(c.eventId, {
          id: c.eventId,
          status: "PENDING",
          error: `saga row for order "${c.order_id}" is locked by another session; deferred`,
          delay_ms: BUSY_ROW_RETRY_MS,
          counts: false,
        });
      } else if (found?.outcome === "foreign") {
        dispositions.set(c.eventId, {
          id: c.eventId,
          status: "DEAD",
          error: `the saga of order "${c.order_id}" is not a ${
            sagaTypeName(c.versions)
          } saga, which ${c.event_type} is for`,
          delay_ms: 0,
          counts: true,
        });
        result.dead++;
      } else if (ev.attempts + 1 >= opts.maxAttempts) {
        dispositions.set(c.eventId, {
          id: c.eventId,
          status: "DEAD",
          error: `no saga exists for order "${c.order_id}"`,
          delay_ms: 0,
          counts: true,
        });
        result.dead++;
      } else {
        // The event that starts its saga may be in another instance's batch right now.
        dispositions.set(c.eventId, {
          id: c.eventId,
          status: "PENDING",
          error: `no saga for order "${c.order_id}" yet`,
          delay_ms: UNKNOWN_ORDER_RETRY_MS * 2 ** ev.attempts,
          counts: true,
        });
      }
    }
  }
  if (!recorded) {
    crashPoint("before_settle_outbox");
    recorded = recordDispositions(tx, [...dispositions.values()]);
  }
  await recorded;
  // Built from what we just wrote, so adopting them costs no query.
  result.claimed = claimable.map((r) => {
    const saga = newSagas.get(r.order_id)!;
    const cancel = appliedCancels.get(r.order_id);
    return {
      order_id: r.order_id,
      snapshot: saga.snapshot as ClaimedSaga["snapshot"],
      machine_version: saga.machine_version,
      pending: saga.pending,
      lease_epoch: String(r.lease_epoch),
      revision: String(r.revision),
      cancel_requested: cancel !== undefined,
      cancel_reason: cancel ?? null,
      retry_requested: false,
      done_steps: {},
    };
  });
  return result;
}

/**
 * Applies one batch. Returns what it handled (no events when idle). Throws
 * when the database, not an event, is the problem: the caller's cycle fails,
 * is logged, and the next wake-up tries again with nothing counted.
 */
export async function runIntake(opts: IntakeOptions): Promise<IntakeResult> {
  try {
    return await opts.sql.begin(async (tx) => {
      // Pipelined with the claim: no extra round trip.
      const [, , events] = await Promise.all([
        asyncCommit(tx),
        opts.alongside?.(tx),
        claimOutbox(tx, opts.batchSize),
      ]);
      if (events.length > 0) crashPoint("after_claim_outbox");
      if (events.length === 0) {
        return { events: 0, started: 0, duplicates: 0, dead: 0, claimed: [] };
      }
      return await applyBatch(tx, events, opts);
    });
  } catch (err) {
    if (!isEventFault(err)) throw err;
    opts.logger.warn({ err: String(err) }, "Outbox batch failed; applying its events one by one");
    return await runIntakeOneByOne(opts);
  }
}

async function runIntakeOneByOne(opts: IntakeOptions): Promise<IntakeResult> {
  const total: IntakeResult = { events: 0, started: 0, duplicates: 0, dead: 0, claimed: [] };
  const ids = await pendingOutboxIds(opts.sql, opts.batchSize);
  for (const { id } of ids) {
    try {
      const r = await opts.sql.begin(async (tx) => {
        const events = await claimOutboxEvent(tx, id);
        return events.length ? await applyBatch(tx, events, opts) : null;
      });
      if (r) {
        total.events += r.events;
        total.started += r.started;
        total.duplicates += r.duplicates;
        total.dead += r.dead;
        total.claimed.push(...r.claimed);
      }
    } catch (err) {
      // The database failed us mid-way: what was applied stands, the rest waits.
      if (!isEventFault(err)) {
        opts.logger.warn(
          { event_id: id, err: String(err) },
          "Database unavailable while applying events one by one; nothing counted, trying later",
        );
        break;
      }
      opts.logger.warn({ event_id: id, err: String(err) }, "Outbox event failed; will retry");
      await recordIntakeFailure(opts.sql, id, String(err).slice(0, 1000), opts.maxAttempts, 1000)
        .catch(() => {/* the database is down: the event stays pending */});
    }
  }
  return total;
}
