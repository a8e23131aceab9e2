// Validation of the admin API's path and query parameters. Each parser
// throws a 400 HTTPException naming the parameter, so a bad input never
// reaches SQL (where it would be a 500).
import { HTTPException } from "hono/http-exception";
import {
  OUTBOX_STATUSES,
  type OutboxStatus,
  SAGA_STATUSES,
  type SagaStatus,
} from "../db/admin_reads.ts";

export const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export const DEFAULT_LIMIT = 50;
export const MAX_LIMIT = 500;

function bad(message: string): never {
  throw new HTTPException(400, { message });
}

/** A UUID in canonical form, lower-cased (PostgreSQL prints them lower-case). */
export function parseOrderId(raw: string): string {
  if (!UUID_RE.test(raw)) bad(`order_id must be a UUID, got "${raw.slice(0, 64)}"`);
  return raw.toLowerCase();
}

export function parseStatus(raw: string | undefined): SagaStatus | null {
  if (raw === undefined || raw === "") return null;
  if (!(SAGA_STATUSES as readonly string[]).includes(raw)) {
    bad(`status must be one of ${SAGA_STATUSES.join(", ")}`);
  }
  return raw as SagaStatus;
}

export function parseOutboxStatus(raw: string | undefined): OutboxStatus | null {
  if (raw === undefined || raw === "") return null;
  if (!(OUTBOX_STATUSES as readonly string[]).includes(raw)) {
    bad(`status must be one of ${OUTBOX_STATUSES.join(", ")}`);
  }
  return raw as OutboxStatus;
}

const MAX_BIGINT = 2n ** 63n - 1n;

/** An outbox event id: a positive integer within PostgreSQL's bigint, as a decimal string. */
export function parseEventId(raw: string): string {
  if (!/^\d{1,19}$/.test(raw) || BigInt(raw) < 1n || BigInt(raw) > MAX_BIGINT) {
    bad(`id must be an outbox event id (a positive integer), got "${raw.slice(0, 64)}"`);
  }
  return BigInt(raw).toString();
}

/** A state name as the ledger stores it (the machine's top-level state, e.g. capturingPayment). */
export function parseState(raw: string | undefined): string | null {
  if (raw === undefined || raw === "") return null;
  if (!/^[A-Za-z][A-Za-z0-9_]{0,63}$/.test(raw)) bad("state must be a state name");
  return raw;
}

export function parseLimit(raw: string | undefined): number {
  if (raw === undefined || raw === "") return DEFAULT_LIMIT;
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n < 1 || n > MAX_LIMIT) {
    bad(`limit must be an integer from 1 to ${MAX_LIMIT}`);
  }
  return n;
}
