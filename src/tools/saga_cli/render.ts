// The saga CLI's answers as text for a terminal: tables for lists (the
// demo's table helper), a column of facts for one saga, a sentence for an
// action. `--json` bypasses all of this and prints the API's answer.
import { table } from "../text_table.ts";

export interface SagaPage {
  items: Array<{ order_id: string; status: string; state: string; updated_at: string }>;
  next_cursor: string | null;
}

export interface OutboxPage {
  items: Array<{
    id: string;
    order_id: string;
    event_type: string;
    status: string;
    attempts: number;
    last_error: string | null;
    created_at: string;
  }>;
  next_cursor: string | null;
}

export interface SagaDetail {
  order_id: string;
  status: string;
  state: string;
  machine_version: string;
  last_error: string | null;
  cancel_requested: boolean;
  cancel_reason: string | null;
  retry_requested: boolean;
  lease_owner: string | null;
  created_at: string;
  updated_at: string;
  history: Array<{ at: string; event: string; from: string | null; to: string }>;
}

const MAX_REASON = 100;

function clip(text: string, max: number): string {
  const line = text.replace(/\s+/g, " ");
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}

export function counts(c: Record<string, number>): string {
  return table(["status", "sagas"], Object.entries(c).map(([status, n]) => [status, n]));
}

export function sagaList(page: SagaPage, nextCommand: (cursor: string) => string): string {
  if (page.items.length === 0) return "No sagas match.";
  const rows = page.items.map((s) => [s.order_id, s.status, s.state, s.updated_at]);
  return [
    table(["order_id", "status", "state", "updated_at"], rows),
    ...(page.next_cursor ? ["", `More: ${nextCommand(page.next_cursor)}`] : []),
  ].join("\n");
}

export function outboxList(page: OutboxPage, nextCommand: (cursor: string) => string): string {
  if (page.items.length === 0) return "No events match.";
  const rows = page.items.map((e) => [
    e.id,
    e.status,
    e.event_type,
    e.order_id,
    e.attempts,
    clip(e.last_error ?? "", MAX_REASON),
  ]);
  return [
    table(["id", "status", "event_type", "order_id", "tries", "last_error"], rows),
    ...(page.next_cursor ? ["", `More: ${nextCommand(page.next_cursor)}`] : []),
  ].join("\n");
}

export function saga(s: SagaDetail): string {
  const facts: Array<[string, string]> = [
    ["order_id", s.order_id],
    ["status", s.status],
    ["state", s.state],
    ["machine", s.machine_version],
    ["created_at", s.created_at],
    ["updated_at", s.updated_at],
  ];
  if (s.last_error) facts.push(["last_error", s.last_error]);
  if (s.cancel_requested) facts.push(["cancel", `requested: ${s.cancel_reason ?? ""}`]);
  if (s.retry_requested) facts.push(["retry", "requested"]);
  if (s.lease_owner) facts.push(["lease_owner", s.lease_owner]);
  const width = Math.max(...facts.map(([k]) => k.length));
  const history = s.history.map((h) => [h.at, h.event, `${h.from ?? "—"} → ${h.to}`]);
  return [
    ...facts.map(([k, v]) => `${k.padEnd(width)}  ${v}`),
    "",
    `History (${s.history.length} rows)`,
    table(["at", "event", "from → to"], history),
  ].join("\n");
}

export function retried(r: { order_id: string; state: string }): string {
  return `Retry accepted: saga ${r.order_id} (state ${r.state}) is RUNNING again.`;
}

export function bulkRetried(r: { retried: number; more: boolean; limit: number }): string {
  const line = `Retried ${r.retried} parked saga${r.retried === 1 ? "" : "s"}.`;
  return r.more
    ? `${line} More are left (over ${r.limit} per call, or locked right now): run it again.`
    : line;
}

export function cancelled(r: { order_id: string; event_id: string; reason: string }): string {
  return `Cancellation requested for saga ${r.order_id} (outbox event ${r.event_id}, ` +
    `reason: ${r.reason}).`;
}

export function redriven(
  r: { id: string; order_id: string; event_type: string; previous_error: string | null },
): string {
  return `Event ${r.id} (${r.event_type} of order ${r.order_id}) is PENDING again.` +
    (r.previous_error ? `\nIt had been dead-lettered for: ${r.previous_error}` : "");
}
