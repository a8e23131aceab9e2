// Turns a downstream HTTP response into a step outcome. Pure: the
// caller supplies the clock, and the retry delay is chosen elsewhere. The
// default reading is the downstream contract's; a step declares in its saga
// definition where its answers differ (a compensation's 404 is "done").

import type { Classification, StepDefinition } from "../../machines/saga_definition.ts";

/** A step outcome before a retry delay is chosen; transient ones carry the server's hint. */
export type ClassifiedResponse =
  | { outcome: "ok"; status: number; body?: unknown }
  | { outcome: "rejected"; status: number; reason: string; body?: unknown }
  | { outcome: "transient"; status: number; reason: string; retryAfterMs?: number };

const MAX_REASON_LENGTH = 200;

export function classifyResponse(
  step: Pick<StepDefinition, "classify">,
  status: number,
  body: unknown,
  /** The Retry-After header, if any. */
  retryAfter: string | null | undefined,
  nowMs: number,
): ClassifiedResponse {
  const outcome = step.classify?.(status, body) ?? defaultClassification(status);
  if (outcome === "ok") return withBody({ outcome: "ok", status }, body);
  if (outcome === "rejected") {
    return withBody({ outcome: "rejected", status, reason: rejectionReason(status, body) }, body);
  }
  // 408, 429, 5xx, and anything unexpected (redirects are not followed): a
  // misrouted or overloaded service may recover, so retry rather than compensate.
  const reason = status >= 500 && status <= 599 || status === 408 || status === 429
    ? `HTTP ${status}`
    : `unexpected HTTP ${status}`;
  const retryAfterMs = parseRetryAfter(retryAfter ?? null, nowMs);
  return retryAfterMs === undefined
    ? { outcome: "transient", status, reason }
    : { outcome: "transient", status, reason, retryAfterMs };
}

/** 2xx ok; 4xx but 408 and 429 a business rejection (never retried); anything else transient. */
export function defaultClassification(status: number): Classification {
  if (status >= 200 && status <= 299) return "ok";
  if (status >= 400 && status <= 499 && status !== 408 && status !== 429) return "rejected";
  return "transient";
}

function withBody<T extends object>(result: T, body: unknown): T & { body?: unknown } {
  return body === undefined ? result : { ...result, body };
}

function rejectionReason(status: number, body: unknown): string {
  if (typeof body === "object" && body !== null && "error" in body) {
    const error = body.error;
    // The reason lands in logs and snapshots: keep it short.
    if (typeof error === "string" && error.trim() !== "") return error.slice(0, MAX_REASON_LENGTH);
  }
  return `HTTP ${status}`;
}

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const MONTH = `(?<month>${MONTHS.join("|")})`;
const TIME = String.raw`(?<h>\d{2}):(?<m>\d{2}):(?<s>\d{2})`;
// RFC 9110 §5.6.7: recipients must accept IMF-fixdate and the two obsolete forms.
const HTTP_DATES = [
  String.raw`^[A-Z][a-z]{2}, (?<day>\d{2}) ${MONTH} (?<year>\d{4}) ${TIME} GMT$`,
  String.raw`^[A-Z][a-z]+, (?<day>\d{2})-${MONTH}-(?<year>\d{2}) ${TIME} GMT$`,
  String.raw`^[A-Z][a-z]{2} ${MONTH} (?<day>[ \d]\d) ${TIME} (?<year>\d{4})$`,
].map((source) => new RegExp(source));

/**
 * Milliseconds to wait from a Retry-After header (delta-seconds or HTTP-date),
 * never negative; undefined when absent or malformed.
 */
export function parseRetryAfter(value: string | null, nowMs: number): number | undefined {
  if (value === null) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  for (const format of HTTP_DATES) {
    const fields = format.exec(text)?.groups;
    if (fields) {
      const dateMs = toUtcMs(fields, nowMs);
      return dateMs === undefined ? undefined : Math.max(0, dateMs - nowMs);
    }
  }
  return undefined;
}

function toUtcMs(fields: Record<string, string>, nowMs: number): number | undefined {
  const [day, h, m, s] = [fields.day, fields.h, fields.m, fields.s].map(Number) as number[];
  let year = Number(fields.year);
  if (fields.year?.length === 2) {
    // RFC 9110: a two-digit year more than 50 years ahead belongs to the previous century.
    const nowYear = new Date(nowMs).getUTCFullYear();
    year += Math.floor(nowYear / 100) * 100;
    if (year > nowYear + 50) year -= 100;
  }
  const ms = Date.UTC(year, MONTHS.indexOf(fields.month ?? ""), day, h, m, s);
  // Date.UTC silently rolls "31 Feb" or "25:00" over; a date that moved is garbage.
  const back = new Date(ms);
  const same = back.getUTCDate() === day && back.getUTCHours() === h &&
    back.getUTCMinutes() === m && back.getUTCSeconds() === s;
  return same ? ms : undefined;
}
