// Outbox payload validation, dispatched on event_type through the registry of
// saga definitions (machines/registry.ts): the definition that starts on the
// type, or the one that accepts it from outside, gives the schema. A failure
// here dead-letters the event with the reason, so messages name the field and
// what was expected.
import type { z } from "zod";
import type { PayloadSchema, SagaDefinition } from "../../machines/saga_definition.ts";
import { definitionAccepting, definitionStartedBy } from "../../machines/registry.ts";
import { PoisonEventError } from "../errors.ts";

export const MAX_PAYLOAD_BYTES = 64 * 1024;

export type ValidEvent =
  /** Starts a saga of `definition` for `sagaId` (the payload's id field, lower case). */
  | { kind: "start"; definition: SagaDefinition; sagaId: string; payload: unknown }
  /** Asks the saga `sagaId` to cancel. */
  | {
    kind: "cancel";
    definition: SagaDefinition;
    sagaId: string;
    reason: string;
    requestedBy: string | null;
  };

function describe(error: z.ZodError): string {
  return error.issues.slice(0, 5).map((i) =>
    `${["payload", ...i.path.map(String)].join(".")}: ${i.message}`
  ).join("; ");
}

/** The payload parsed by `spec`, its id checked against the outbox row's order_id column. */
function parse(
  eventType: string,
  spec: PayloadSchema<never>,
  orderIdColumn: string,
  payload: unknown,
): { data: Record<string, unknown>; id: string } {
  const r = (spec.schema as z.ZodType).safeParse(payload);
  if (!r.success) throw new PoisonEventError(`invalid ${eventType}: ${describe(r.error)}`);
  const data = r.data as Record<string, unknown>;
  const id = String(data[spec.idField]);
  if (id.toLowerCase() !== orderIdColumn.toLowerCase()) {
    throw new PoisonEventError(
      `payload.${spec.idField} "${id}" disagrees with the event's order_id column "${orderIdColumn}"`,
    );
  }
  return { data, id: id.toLowerCase() };
}

/** Returns the event in our terms, or throws PoisonEventError saying why not. */
export function validateEvent(
  eventType: string,
  orderIdColumn: string,
  payload: unknown,
): ValidEvent {
  const size = new TextEncoder().encode(JSON.stringify(payload ?? null)).length;
  if (size > MAX_PAYLOAD_BYTES) {
    throw new PoisonEventError(
      `payload is ${size} bytes, more than the ${MAX_PAYLOAD_BYTES} allowed`,
    );
  }
  const starts = definitionStartedBy(eventType);
  if (starts) {
    const { data, id } = parse(eventType, starts.start, orderIdColumn, payload);
    const why = starts.start.check?.(data as never) ?? null;
    if (why !== null) throw new PoisonEventError(`invalid ${eventType}: ${why}`);
    return { kind: "start", definition: starts, sagaId: id, payload: data };
  }
  const accepts = definitionAccepting(eventType);
  const outside = accepts?.events[eventType];
  if (accepts && outside) {
    const { data, id } = parse(eventType, outside, orderIdColumn, payload);
    const request = outside.toRequest(data as never);
    return {
      kind: "cancel",
      definition: accepts,
      sagaId: id,
      reason: request.reason,
      requestedBy: request.requestedBy,
    };
  }
  throw new PoisonEventError(`unknown event_type "${eventType.slice(0, 100)}"`);
}
