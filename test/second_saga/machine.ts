// A second saga type, defined only for tests: it proves the engine, intake,
// admin API and replay run a saga they know nothing about.
//
//   pickingUp → delivering (pivot) → delivered
//      │ rejected / retries exhausted / CANCEL      │ rejected
//      └──────────────▶ returning ◀─────────────────┘ → returned
//   delivering with its retries spent, or returning with its retries spent → needsAttention
//
// Pure: the runner executes the invokes and keeps the timers.
import { assign, fromPromise, setup } from "xstate";
import type { RetryBudget, StepOutput } from "../../machines/saga_definition.ts";

export interface Parcel {
  parcelId: string;
  weightGrams: number;
  destination: string;
}

export interface ParcelContext {
  parcel: Parcel;
  budget: RetryBudget;
  attempts: number;
  retryInMs: number;
  cancelReason: string | null;
  deliveryAttempted: boolean;
  parkedAt: "delivering" | "returning" | null;
}

export type ParcelEvent = { type: "RECALL"; reason: string } | { type: "RETRY" };

const placeholder = fromPromise<StepOutput, { parcel: Parcel }>(() => {
  throw new Error("Step actors are provided by the runner");
});
const output = (event: unknown) => (event as { output: StepOutput }).output;

const parcelSetup = setup({
  types: {
    context: {} as ParcelContext,
    events: {} as ParcelEvent,
    input: {} as { parcel: Parcel; budget: RetryBudget },
  },
  actors: { pickUp: placeholder, deliver: placeholder, returnToSender: placeholder },
  guards: {
    succeeded: ({ event }) => output(event).outcome === "ok",
    rejected: ({ event }) => output(event).outcome === "rejected",
    mayRetry: ({ context }, p: { budget: keyof RetryBudget }) =>
      context.attempts + 1 < context.budget[p.budget],
    parkedAt: ({ context }, p: { state: string }) => context.parkedAt === p.state,
  },
  delays: { retryDelay: ({ context }) => context.retryInMs },
  actions: {
    resetAttempts: assign({ attempts: 0 }),
    scheduleRetry: assign({
      attempts: ({ context }) => context.attempts + 1,
      retryInMs: ({ event }) => {
        const out = output(event);
        return out.outcome === "transient" ? out.retryInMs : 0;
      },
    }),
    markAttempted: assign({ deliveryAttempted: true }),
    recordRecall: assign({
      cancelReason: ({ context, event }) =>
        context.cancelReason ?? (event as { reason?: string }).reason ?? "recalled",
    }),
    park: assign({ parkedAt: (_, p: { state: "delivering" | "returning" }) => p.state }),
    unpark: assign({ parkedAt: null, attempts: 0 }),
  },
});

type Config = Parameters<typeof parcelSetup.createMachine>[0];

/** A step state: `calling` invokes `step`; `waiting` is the retry delay. */
function stepState(step: string, onDone: unknown[], on?: Record<string, unknown>) {
  return {
    entry: "resetAttempts",
    initial: "calling",
    ...(on ? { on } : {}),
    states: {
      calling: {
        invoke: {
          id: step,
          src: step,
          input: ({ context }: { context: ParcelContext }) => ({ parcel: context.parcel }),
          onDone,
        },
      },
      waiting: { after: { retryDelay: "calling" } },
    },
  };
}

const retry = (budget: keyof RetryBudget, extra: string[] = []) => ({
  guard: { type: "mayRetry", params: { budget } },
  target: "waiting",
  actions: [...extra, "scheduleRetry"],
});
const parkAt = (state: "delivering" | "returning") => ({
  target: "#parcelSaga.needsAttention",
  actions: { type: "park", params: { state } },
});

export const parcelSagaV1 = parcelSetup.createMachine({
  id: "parcelSaga",
  context: ({ input }) => ({
    parcel: input.parcel,
    budget: input.budget,
    attempts: 0,
    retryInMs: 0,
    cancelReason: null,
    deliveryAttempted: false,
    parkedAt: null,
  }),
  initial: "pickingUp",
  states: ({
    pickingUp: stepState("pickUp", [
      { guard: "succeeded", target: "#parcelSaga.delivering" },
      { guard: "rejected", target: "#parcelSaga.returned" }, // nothing was picked up
      retry("forward"),
      { target: "#parcelSaga.returning" }, // may have been picked up: return it
    ], { RECALL: { target: "returning", actions: "recordRecall" } }),
    // The pivot: once a delivery was attempted, only the courier's "no" returns it.
    delivering: stepState("deliver", [
      { guard: "succeeded", target: "#parcelSaga.delivered", actions: "markAttempted" },
      { guard: "rejected", target: "#parcelSaga.returning", actions: "markAttempted" },
      retry("forward", ["markAttempted"]),
      { ...parkAt("delivering"), actions: ["markAttempted", parkAt("delivering").actions] },
    ], { RECALL: { actions: "recordRecall" } }),
    returning: stepState("returnToSender", [
      { guard: "succeeded", target: "#parcelSaga.returned" },
      retry("compensation"),
      parkAt("returning"),
    ]),
    needsAttention: {
      on: {
        RECALL: { actions: "recordRecall" },
        RETRY: (["delivering", "returning"] as const).map((state) => ({
          guard: { type: "parkedAt" as const, params: { state } },
          target: state,
          actions: "unpark" as const,
        })),
      },
    },
    delivered: { type: "final" },
    returned: { type: "final" },
  }) as Config["states"],
});
