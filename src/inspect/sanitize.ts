// What the Stately inspector may see of a saga. Frames leave the process (to
// a relay and a browser), so customer data is stripped twice: by shape (each
// saga definition's `privacy.context` says what of its context may be seen,
// e.g. the order keeps only orderId, totalCents and currency; step outputs
// lose their response bodies; step inputs are dropped) and by value (any
// string that contains one of the definition's `privacy.secrets`, such as a
// customer id, is redacted, wherever a downstream error message may have echoed it).
import { sagaDefinitions } from "../../machines/registry.ts";

export const REDACTED = "[redacted]";

type Obj = Record<string, unknown>;

const isObject = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);

/** A context as every saga definition's privacy rule reduces it (other actors' pass through). */
export function sanitizeContext<T>(context: T): T {
  if (!isObject(context)) return context;
  let out: unknown = { ...context };
  for (const d of sagaDefinitions()) out = d.privacy?.context(out) ?? out;
  return out as T;
}

/** An event without response bodies, step inputs or customer data. */
export function sanitizeEvent<T>(event: T): T {
  if (!isObject(event)) return event;
  const out: Obj = { ...event };
  if (isObject(out.output)) {
    const { body: _body, ...rest } = out.output;
    out.output = rest;
  }
  delete out.input;
  return sanitizeContext(out) as T;
}

/** `value` with every string containing one of `secrets` replaced by REDACTED. */
export function scrub<T>(value: T, secrets: readonly string[]): T {
  if (secrets.length === 0) return value;
  const walk = (v: unknown): unknown => {
    if (typeof v === "string") return secrets.some((s) => v.includes(s)) ? REDACTED : v;
    if (Array.isArray(v)) return v.map(walk);
    if (isObject(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]));
    return v;
  };
  return walk(value) as T;
}
