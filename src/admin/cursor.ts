// The opaque keyset cursors of the admin listings, each the last row of a
// page in base64url. GET /sagas: "<created_at µs>|<order_id>" (microseconds,
// not a JS Date: two sagas created within the same millisecond must still
// page apart exactly). GET /outbox: "outbox|<id>".
import { HTTPException } from "hono/http-exception";
import { UUID_RE } from "./params.ts";

export interface Cursor {
  /** created_at in microseconds since the epoch, as a decimal string. */
  us: string;
  orderId: string;
}

const invalid = () => new HTTPException(400, { message: "invalid cursor" });

function encode(text: string): string {
  return btoa(text).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

function decode(raw: string): string {
  try {
    if (!/^[A-Za-z0-9_-]{1,128}$/.test(raw)) throw invalid();
    return atob(raw.replaceAll("-", "+").replaceAll("_", "/"));
  } catch {
    throw invalid();
  }
}

export function encodeCursor(c: Cursor): string {
  return encode(`${c.us}|${c.orderId}`);
}

/** Throws a 400 HTTPException for anything that is not a cursor this API handed out. */
export function decodeCursor(raw: string): Cursor {
  const text = decode(raw);
  // At most 17 digits: always inside bigint and timestamptz range.
  const m = /^(-?\d{1,17})\|(.+)$/.exec(text);
  if (!m || !UUID_RE.test(m[2]!)) throw invalid();
  return { us: m[1]!, orderId: m[2]!.toLowerCase() };
}

/** The cursor of GET /outbox after the event `id`. */
export function encodeOutboxCursor(id: string): string {
  return encode(`outbox|${id}`);
}

/** The event id a GET /outbox cursor names; a 400 HTTPException for anything else. */
export function decodeOutboxCursor(raw: string): string {
  // At most 18 digits: always inside bigint.
  const m = /^outbox\|(\d{1,18})$/.exec(decode(raw));
  if (!m) throw invalid();
  return BigInt(m[1]!).toString();
}
