// Sagas are not live actors here (the runner drives them with the pure
// `transition()`), so they reach the Stately inspector as frames built from
// persisted data: one `@xstate.actor` registration the first time a saga is
// seen, then an `@xstate.event` and an `@xstate.snapshot` per transition. The
// live hook (src/inspect/mod.ts) and the replay tool both speak these frames.
import type { AnyEventObject, Snapshot } from "xstate";

type Status = Snapshot<unknown>["status"];

/** What the inspector is shown of a snapshot (no children, history or errors). */
export interface InspectedSnapshot {
  status: Status;
  value: unknown;
  context: unknown;
  output?: unknown;
}

export type SagaFrame =
  | { type: "@xstate.actor"; snapshot: InspectedSnapshot }
  | { type: "@xstate.event"; event: AnyEventObject }
  | { type: "@xstate.snapshot"; snapshot: InspectedSnapshot; event: AnyEventObject };

/** The inspected part of a (persisted) machine snapshot. */
export function inspected(snapshot: unknown): InspectedSnapshot {
  const s = (snapshot ?? {}) as Record<string, unknown>;
  const out: InspectedSnapshot = {
    status: typeof s.status === "string" ? s.status as Status : "active",
    value: s.value,
    context: s.context,
  };
  if (s.output !== undefined) out.output = s.output;
  return out;
}

/** `capturingPayment.waiting` → `{capturingPayment: "waiting"}`, as XState writes values. */
export function stateValue(path: string): unknown {
  const keys = path.split(".");
  return keys.reduceRight<unknown>(
    (inner, key) => inner === undefined ? key : { [key]: inner },
    undefined,
  );
}

/** The frames one applied event produces: the event sent, then the snapshot it led to. */
export function transitionFrames(event: AnyEventObject, snapshot: unknown): SagaFrame[] {
  return [
    { type: "@xstate.event", event },
    { type: "@xstate.snapshot", snapshot: inspected(snapshot), event },
  ];
}
