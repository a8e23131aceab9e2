// The body of POST /sagas/retry: which parked sagas to retry, by state, by
// ids, or both (then a saga must match both). Strict: an unknown key is a
// 400, so a typo never widens a bulk action.
import { HTTPException } from "hono/http-exception";
import { parseOrderId, parseState } from "./params.ts";

/** Ids one call may name. */
export const MAX_BULK_IDS = 1000;
/** Sagas one call retries at most; the answer says when more are left (`more`). */
export const BULK_RETRY_LIMIT = 1000;

export interface BulkRetrySelection {
  state: string | null;
  orderIds: string[] | null;
}

function bad(message: string): never {
  throw new HTTPException(400, { message });
}

export function parseBulkRetryBody(text: string): BulkRetrySelection {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    bad('body must be JSON like {"state": "...", "order_ids": ["..."]}');
  }
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    bad('body must be a JSON object like {"state": "...", "order_ids": ["..."]}');
  }
  const fields = body as Record<string, unknown>;
  const unknown = Object.keys(fields).filter((k) => k !== "state" && k !== "order_ids");
  if (unknown.length > 0) {
    bad(`unknown field ${unknown.map((k) => JSON.stringify(k.slice(0, 64))).join(", ")}`);
  }
  const state = fields.state === undefined || fields.state === null
    ? null
    : typeof fields.state === "string" && fields.state !== ""
    ? parseState(fields.state)
    : bad("state must be a state name");
  const orderIds = fields.order_ids === undefined || fields.order_ids === null
    ? null
    : parseIds(fields.order_ids);
  if (state === null && orderIds === null) bad("give state, order_ids or both");
  return { state, orderIds };
}

function parseIds(raw: unknown): string[] {
  if (!Array.isArray(raw) || raw.length === 0 || raw.length > MAX_BULK_IDS) {
    bad(`order_ids must be an array of 1 to ${MAX_BULK_IDS} UUIDs`);
  }
  const ids = raw.map((id) =>
    typeof id === "string" ? parseOrderId(id) : bad("order_ids must be UUIDs")
  );
  return [...new Set(ids)];
}
