// The events a saga can receive in a given state, for generated paths through
// its state graph: CANCEL, RETRY and ATTEMPT anywhere (as an operator, a
// producer or a buggy runner might send them), each of `outputs` as the result
// of a step being called, and the retry timer while waiting.
import { STEP_STATES } from "../../machines/order_saga.ts";
import type { StepOutput } from "../../machines/order_types.ts";

export type SagaTestEvent = { type: string } & Record<string, unknown>;

export function sagaEvents(outputs: StepOutput[]) {
  return (s: { value: unknown }): SagaTestEvent[] => {
    const [top, sub] = Object.entries(s.value as Record<string, string>)[0] ??
      [String(s.value), ""];
    const events: SagaTestEvent[] = [
      { type: "CANCEL", reason: "customer" },
      { type: "RETRY" },
      { type: "ATTEMPT" },
    ];
    const step = STEP_STATES[top as keyof typeof STEP_STATES];
    if (step && sub === "calling") {
      for (const output of outputs) events.push({ type: `xstate.done.actor.${step}`, output });
    }
    if (sub === "waiting") {
      events.push({ type: `xstate.after.retryDelay.orderSaga.${top}.waiting` });
    }
    return events;
  };
}
