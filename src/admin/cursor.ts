// The opaque keyset cursor of GET /sagas: base64url of "<updated_at µs>|<order_id>",
// the last row of a page. Microseconds, not a JS Date: two sagas updated within
// the same millisecond must still page apart exactly.
import { HTTPException } from "hono/http-exception";
import { UUID_RE } from "./params.ts";

export interface Cursor {
  /** updated_at in microseconds since the epoch, as a decimal string. */
  us: string;
  orderId: string;
}

export function encodeCursor(c: Cursor): string {
  return btoa(`${c.us}|${c.orderId}`)
    .replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

/** Throws a 400 HTTPException for anything that is not a cursor this API handed out. */
export function decodeCursor(raw: string): Cursor {
  const invalid = () => new HTTPException(400, { message: "invalid cursor" });
  let text: string;
  try {
    if (!/^[A-Za-z0-9_-]{1,128}$/.test(raw)) throw invalid();
    text = atob(raw.replaceAll("-", "+").replaceAll("_", "/"));
  } catch {
    throw invalid();
  }
  // At most 17 digits: always inside bigint and timestamptz range.
  const m = /^(-?\d{1,17})\|(.+)$/.exec(text);
  if (!m || !UUID_RE.test(m[2]!)) throw invalid();
  return { us: m[1]!, orderId: m[2]!.toLowerCase() };
}
