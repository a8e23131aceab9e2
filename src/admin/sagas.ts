// /sagas: list (filtered, keyset-paginated, newest first), counts by status,
// one saga with its history, and the operator actions: retry (one or many)
// and cancel, each recorded with the operator's name. Whether a saga may be
// cancelled or retried is its definition's rule (`canCancel`, `canRetry` in
// machines/), asked on its restored snapshot (operator_rules.ts); nothing here
// re-derives it.
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { HTTPException } from "hono/http-exception";
import type { Sql } from "../db/client.ts";
import {
  type AdminActionResult,
  insertCancellation,
  retrySaga,
  retrySagas,
} from "../db/admin_actions.ts";
import { getSaga, listSagas, SAGA_STATUSES, sagaCounts, sagaHistory } from "../db/admin_reads.ts";
import type { Logger } from "../log.ts";
import type { AdminEnv } from "./auth.ts";
import { BULK_RETRY_LIMIT, parseBulkRetryBody } from "./bulk_retry_body.ts";
import { decodeCursor, encodeCursor } from "./cursor.ts";
import { actorName } from "./operators.ts";
import { parseLimit, parseOrderId, parseState, parseStatus } from "./params.ts";
import { sagaVersion, sagaVersions } from "../../machines/registry.ts";
import { statusesInState } from "../engine/saga_state.ts";
import { cancelVerdict, retryVerdict } from "./operator_rules.ts";

export interface SagaRoutesDeps {
  sql: Sql;
  /** With the operator's name, signs operator actions (saga_history.instance_id). */
  instanceId: string;
  logger: Logger;
}

/** A page of a saga's history, not an export: the newest rows win. */
const HISTORY_LIMIT = 1000;
const MAX_BODY_BYTES = 16 * 1024;
// 1,000 UUIDs in JSON are about 40 KB.
const MAX_BULK_BODY_BYTES = 64 * 1024;
const MAX_REASON_LENGTH = 1000; // what intake accepts (src/engine/validate.ts)
const DEFAULT_CANCEL_REASON = "cancelled by operator";

export function sagaRoutes(deps: SagaRoutesDeps): Hono<AdminEnv> {
  const { sql } = deps;
  const app = new Hono<AdminEnv>();
  const actor = (operator: string) => actorName(operator, deps.instanceId);

  app.get("/", async (c) => {
    const status = parseStatus(c.req.query("status"));
    const state = parseState(c.req.query("state"));
    const limit = parseLimit(c.req.query("limit"));
    const raw = c.req.query("cursor");
    const after = raw === undefined || raw === "" ? null : decodeCursor(raw);
    // One row more than asked tells whether another page exists.
    // A state narrows the statuses to read (a finished state has one; any other,
    // the unfinished two): never a walk through every finished row.
    const possible = state === null ? SAGA_STATUSES : statusesInState(state, versions());
    const rows = await listSagas(sql, {
      statuses: status ? possible.filter((s) => s === status) : possible,
      state,
      after,
      limit: limit + 1,
    });
    const page = rows.slice(0, limit);
    const last = page.at(-1);
    return c.json({
      items: page.map((r) => ({
        order_id: r.order_id,
        status: r.status,
        state: r.state,
        updated_at: r.updated_at,
      })),
      next_cursor: rows.length > limit && last
        ? encodeCursor({ us: last.sort_us, orderId: last.order_id })
        : null,
    });
  });

  // Registered before /:order_id, which would otherwise take "counts" for an
  // id (and answer 400: not a UUID).
  app.get("/counts", async (c) => c.json(await sagaCounts(sql)));

  const bodyOf = (maxSize: number) =>
    bodyLimit({
      maxSize,
      onError: () => {
        throw new HTTPException(413, { message: `body larger than ${maxSize} bytes` });
      },
    });
  const limitBody = bodyOf(MAX_BODY_BYTES);

  // Bulk retry. `GET /sagas/retry` is not this route: it asks for a saga
  // whose id is "retry" (400, not a UUID).
  app.post("/retry", bodyOf(MAX_BULK_BODY_BYTES), async (c) => {
    const selection = parseBulkRetryBody(await c.req.text());
    const operator = c.get("operator");
    const r = await retrySagas(sql, {
      ...selection,
      limit: BULK_RETRY_LIMIT,
      actor: actor(operator),
      judge: retryVerdict,
    });
    deps.logger.info(
      { operator, state: selection.state, order_ids: selection.orderIds?.length, ...r },
      "Parked sagas retried by an operator",
    );
    return c.json({ retried: r.retried, more: r.more, limit: BULK_RETRY_LIMIT }, 202);
  });

  app.get("/:order_id", async (c) => {
    const orderId = parseOrderId(c.req.param("order_id"));
    const row = await getSaga(sql, orderId);
    if (!row) throw new HTTPException(404, { message: `saga "${orderId}" not found` });
    const history = await sagaHistory(sql, orderId, HISTORY_LIMIT);
    return c.json({
      order_id: row.order_id,
      status: row.status,
      state: row.state,
      machine_version: row.machine_version,
      saga: sagaVersion(row.machine_version)?.definition.name ?? null,
      snapshot: row.snapshot,
      history,
      // What an operator may do now, as the saga's definition says (the page enables its buttons by it).
      actions: { cancel: cancelVerdict(row), retry: retryVerdict(row) },
      last_error: row.last_error,
      cancel_requested: row.cancel_requested,
      cancel_reason: row.cancel_reason,
      retry_requested: row.retry_requested,
      lease_owner: row.lease_owner,
      lease_until: row.lease_until,
      created_at: row.created_at,
      updated_at: row.updated_at,
    });
  });

  app.post("/:order_id/retry", limitBody, async (c) => {
    const orderId = parseOrderId(c.req.param("order_id"));
    const r = await retrySaga(sql, orderId, actor(c.get("operator")), retryVerdict);
    const state = acceptedStateOr4xx(r, orderId);
    return c.json({ order_id: orderId, action: "retry", accepted: true, state }, 202);
  });

  app.post("/:order_id/cancel", limitBody, async (c) => {
    const orderId = parseOrderId(c.req.param("order_id"));
    const reason = parseCancelBody(await c.req.text());
    const row = await getSaga(sql, orderId);
    if (!row) throw new HTTPException(404, { message: `saga "${orderId}" not found` });
    const verdict = cancelVerdict(row);
    if (!verdict.allowed) {
      throw new HTTPException(409, {
        message: `saga is ${row.status} in ${row.state}: ${verdict.reason}`,
      });
    }
    // Known to load: cancelVerdict allowed it.
    const { definition } = sagaVersion(row.machine_version)!;
    const event = definition.cancel.outboxEvent(orderId, reason, actor(c.get("operator")));
    const eventId = await insertCancellation(sql, orderId, event);
    return c.json({
      order_id: orderId,
      action: "cancel",
      accepted: true,
      state: row.state,
      reason,
      event_id: eventId,
    }, 202);
  });

  return app;
}

/** Maps a refused action to its HTTP error; returns the saga's state when accepted. */
function acceptedStateOr4xx(r: AdminActionResult, orderId: string): string {
  if (r.outcome === "not_found") {
    throw new HTTPException(404, { message: `saga "${orderId}" not found` });
  }
  if (r.outcome === "conflict") throw new HTTPException(409, { message: r.reason });
  return r.state;
}

const versions = () => sagaVersions().map((v) => sagaVersion(v)!);

/** The body is optional; when present it is `{"reason": string}`. */
function parseCancelBody(text: string): string {
  if (text.trim() === "") return DEFAULT_CANCEL_REASON;
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new HTTPException(400, { message: "body must be JSON" });
  }
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new HTTPException(400, { message: 'body must be a JSON object like {"reason": "..."}' });
  }
  const reason = (body as Record<string, unknown>).reason;
  if (reason === undefined || reason === null) return DEFAULT_CANCEL_REASON;
  if (typeof reason !== "string" || reason.trim() === "" || reason.length > MAX_REASON_LENGTH) {
    throw new HTTPException(400, {
      message: `reason must be a non-empty string of at most ${MAX_REASON_LENGTH} characters`,
    });
  }
  return reason;
}
