// What a step outcome leaves behind. The machine decides on a step's outcome,
// status and reason only; the response body matters to no transition. So the
// history keeps the applied event without the body (a replay recomputes every
// snapshot from it exactly), and saga_step keeps the one copy of the body,
// capped: enough for an operator to find a capture or reservation id, never
// a downstream service's whole answer.
import type { StepOutput } from "../../machines/saga_definition.ts";

/** A response body larger than this (as JSON) is stored as a note of its size. */
export const MAX_STORED_BODY_BYTES = 1024;

export function storedBody(body: unknown): unknown {
  if (body === undefined || body === null) return null;
  const text = JSON.stringify(body);
  const bytes = new TextEncoder().encode(text).length;
  return bytes <= MAX_STORED_BODY_BYTES ? body : { truncated: true, bytes };
}

/** The event as the history stores it: a step's output without its body. */
export function storedEvent(
  event: { type: string } & Record<string, unknown>,
): { type: string } & Record<string, unknown> {
  const output = event.output as StepOutput | undefined;
  if (!output || typeof output !== "object" || !("body" in output)) return event;
  const { body: _, ...rest } = output as StepOutput & { body?: unknown };
  return { ...event, output: rest };
}
