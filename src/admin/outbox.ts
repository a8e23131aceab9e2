// /outbox: the events producers wrote, newest first (dead letters with
// `?status=DEAD`), and the redrive of a dead letter once its cause is fixed
// (typically its payload, corrected in the database).
import { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import type { Sql } from "../db/client.ts";
import { redriveEvent } from "../db/admin_actions.ts";
import { listOutbox } from "../db/admin_reads.ts";
import type { Logger } from "../log.ts";
import type { AdminEnv } from "./auth.ts";
import { decodeOutboxCursor, encodeOutboxCursor } from "./cursor.ts";
import { actorName } from "./operators.ts";
import { parseEventId, parseLimit, parseOutboxStatus } from "./params.ts";

export interface OutboxRoutesDeps {
  sql: Sql;
  instanceId: string;
  logger: Logger;
}

export function outboxRoutes(deps: OutboxRoutesDeps): Hono<AdminEnv> {
  const { sql } = deps;
  const app = new Hono<AdminEnv>();

  app.get("/", async (c) => {
    const status = parseOutboxStatus(c.req.query("status"));
    const limit = parseLimit(c.req.query("limit"));
    const raw = c.req.query("cursor");
    const afterId = raw === undefined || raw === "" ? null : decodeOutboxCursor(raw);
    // One row more than asked tells whether another page exists.
    const rows = await listOutbox(sql, { status, afterId, limit: limit + 1 });
    const page = rows.slice(0, limit);
    const last = page.at(-1);
    return c.json({
      items: page.map((r) => ({
        id: r.id,
        order_id: r.order_id,
        event_type: r.event_type,
        status: r.status,
        attempts: r.attempts,
        last_error: r.last_error,
        created_at: r.created_at,
        processed_at: r.processed_at,
      })),
      next_cursor: rows.length > limit && last ? encodeOutboxCursor(last.id) : null,
    });
  });

  app.post("/:id/redrive", async (c) => {
    const id = parseEventId(c.req.param("id"));
    const operator = c.get("operator");
    const r = await redriveEvent(sql, id, actorName(operator, deps.instanceId));
    if (r.outcome === "not_found") {
      throw new HTTPException(404, { message: `outbox event ${id} not found` });
    }
    if (r.outcome === "conflict") {
      throw new HTTPException(409, {
        message: `event ${id} is ${r.status}; only a DEAD event can be redriven`,
      });
    }
    // The durable record when the order has no saga (a dead OrderPlaced).
    deps.logger.info(
      {
        operator,
        event_id: id,
        order_id: r.orderId,
        event_type: r.eventType,
        previous_error: r.previousError,
      },
      "Outbox event redriven by an operator",
    );
    return c.json({
      id,
      action: "redrive",
      accepted: true,
      status: "PENDING",
      order_id: r.orderId,
      event_type: r.eventType,
      previous_error: r.previousError,
    }, 202);
  });

  return app;
}
