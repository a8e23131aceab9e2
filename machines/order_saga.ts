// The order saga, version 1 (SPEC §5). Pure: no I/O, clock or randomness.
//
//   creatingOrder → reservingInventory → capturingPayment (pivot) → confirmingOrder → completed
//        │                 │                   │ declined                 │ retries exhausted
//        └──── rejected / retries exhausted / CANCEL ──▶ compensating      └──▶ needsAttention
//   compensating routes to: releasingReservation → cancellingOrder → voidingPayment → cancelled
//   (only what was touched is undone, newest first; the authorization is always voided last)
//
// Every step state has two substates: `calling` (the step's actor is invoked)
// and `waiting` (a retry delay). The runner interprets the machine with the
// pure `transition()` function: an invoke becomes a step it executes, an
// `after` becomes a deadline it stores in PostgreSQL, so both survive a crash
// (XState's own timers would not: issue #5331).
//
// A step a forward call *may* have done (ok, or a transient failure whose
// effect is unknown) is "touched" and gets compensated; compensations treat
// "nothing to undo" as success, so undoing a maybe is safe.
import { assign, fromPromise, setup } from "xstate";
import type { ForwardStep, OrderData, StepInput, StepName, StepOutput } from "./order_types.ts";

export const ORDER_SAGA_ID = "orderSaga";
export const ORDER_SAGA_VERSION = "order-saga@1";

export interface RetryBudget {
  /** Calls allowed for createOrder, reserveInventory and capturePayment. */
  forward: number;
  /** Calls allowed for confirmOrder (it is retried on rejection too). */
  confirm: number;
  /** Calls allowed for each compensation. */
  compensation: number;
}

export interface SagaInput {
  order: OrderData;
  budget: RetryBudget;
}

export interface SagaContext {
  order: OrderData;
  budget: RetryBudget;
  /** Failed calls of the current step so far. */
  attempts: number;
  /** The delay the runner chose for the next retry. */
  retryInMs: number;
  /** Forward steps that succeeded or may have: what compensation undoes. */
  touched: ForwardStep[];
  cancelReason: string | null;
  /** Why the saga compensates or is parked. */
  failure: { step: StepName; reason: string } | null;
  /** The step state a RETRY resumes, while parked in needsAttention. */
  parkedAt: StepStateName | null;
}

export type SagaEvent =
  | { type: "CANCEL"; reason: string }
  | { type: "RETRY" };

type DoneEvent = { output: StepOutput };

/** Top-level states that call a step. */
export const STEP_STATES = {
  creatingOrder: "createOrder",
  reservingInventory: "reserveInventory",
  capturingPayment: "capturePayment",
  confirmingOrder: "confirmOrder",
  releasingReservation: "releaseReservation",
  cancellingOrder: "cancelOrder",
  voidingPayment: "voidPayment",
} as const satisfies Record<string, StepName>;
export type StepStateName = keyof typeof STEP_STATES;

/** The states a saga can be parked from (forward steps before the pivot compensate instead). */
const PARKABLE = [
  "capturingPayment",
  "confirmingOrder",
  "releasingReservation",
  "cancellingOrder",
  "voidingPayment",
] as const satisfies readonly StepStateName[];

// Step actors are placeholders: the runner executes invokes itself, and a live
// interpreter (tests, inspector replays) must `provide()` real ones.
const placeholder = fromPromise<StepOutput, StepInput>(() => {
  throw new Error("Step actors are provided by the runner");
});

const output = (event: unknown) => (event as DoneEvent).output;

function stepInput(step: StepName) {
  return ({ context }: { context: SagaContext }): StepInput =>
    step === "cancelOrder"
      ? {
        step,
        order: context.order,
        reason: context.cancelReason ?? context.failure?.reason ?? "saga compensated",
      }
      : { step, order: context.order };
}

const machine = setup({
  types: {
    context: {} as SagaContext,
    events: {} as SagaEvent,
    input: {} as SagaInput,
  },
  actors: {
    createOrder: placeholder,
    reserveInventory: placeholder,
    capturePayment: placeholder,
    confirmOrder: placeholder,
    releaseReservation: placeholder,
    cancelOrder: placeholder,
    voidPayment: placeholder,
  },
  guards: {
    succeeded: ({ event }) => output(event).outcome === "ok",
    rejected: ({ event }) => output(event).outcome === "rejected",
    canRetry: ({ context }, params: { budget: keyof RetryBudget }) =>
      context.attempts + 1 < context.budget[params.budget],
    touched: ({ context }, params: { step: ForwardStep }) => context.touched.includes(params.step),
    parkedAt: ({ context }, params: { state: StepStateName }) => context.parkedAt === params.state,
    // A rejected compensation cannot be fixed by retrying: it parks at once.
    // The runner never delivers a CANCEL while a call is in doubt, so no
    // attempt yet means the capture was never called: still before the pivot.
    notTriedYet: ({ context }) => context.attempts === 0,
    compensationRetryable: ({ context, event }) =>
      output(event).outcome !== "rejected" && context.attempts + 1 < context.budget.compensation,
  },
  delays: {
    retryDelay: ({ context }) => context.retryInMs,
  },
  actions: {
    resetAttempts: assign({ attempts: 0 }),
    touch: assign({
      touched: ({ context }, params: { step: ForwardStep }) =>
        context.touched.includes(params.step) ? context.touched : [...context.touched, params.step],
    }),
    scheduleRetry: assign({
      attempts: ({ context }) => context.attempts + 1,
      retryInMs: ({ event }) => {
        const out = output(event);
        return out.outcome === "ok" ? 0 : out.retryInMs ?? 0;
      },
    }),
    fail: assign({
      failure: ({ event }, params: { step: StepName; why?: string }) => {
        const out = output(event);
        const reason = out.outcome === "ok" ? "ok" : out.reason;
        return { step: params.step, reason: params.why ? `${params.why}: ${reason}` : reason };
      },
    }),
    park: assign({ parkedAt: (_, params: { state: StepStateName }) => params.state }),
    recordCancel: assign({
      cancelReason: ({ context, event }) =>
        context.cancelReason ?? (event as { reason?: string }).reason ?? "cancellation requested",
    }),
    unpark: assign({ parkedAt: null, attempts: 0 }),
  },
}).createMachine({
  id: ORDER_SAGA_ID,
  context: ({ input }) => ({
    order: input.order,
    budget: input.budget,
    attempts: 0,
    retryInMs: 0,
    touched: [],
    cancelReason: null,
    failure: null,
    parkedAt: null,
  }),
  initial: "creatingOrder",
  states: {
    creatingOrder: {
      entry: "resetAttempts",
      on: { CANCEL: { target: "compensating", actions: "recordCancel" } },
      initial: "calling",
      states: {
        calling: {
          invoke: {
            id: "createOrder",
            src: "createOrder",
            input: stepInput("createOrder"),
            onDone: [
              {
                guard: "succeeded",
                target: "#orderSaga.reservingInventory",
                actions: { type: "touch", params: { step: "createOrder" } },
              },
              {
                guard: "rejected",
                target: "#orderSaga.compensating",
                actions: { type: "fail", params: { step: "createOrder" } },
              },
              {
                guard: { type: "canRetry", params: { budget: "forward" } },
                target: "waiting",
                actions: [{ type: "touch", params: { step: "createOrder" } }, "scheduleRetry"],
              },
              {
                target: "#orderSaga.compensating",
                actions: [
                  { type: "touch", params: { step: "createOrder" } },
                  { type: "fail", params: { step: "createOrder", why: "retries exhausted" } },
                ],
              },
            ],
          },
        },
        waiting: { after: { retryDelay: "calling" } },
      },
    },
    reservingInventory: {
      entry: "resetAttempts",
      on: { CANCEL: { target: "compensating", actions: "recordCancel" } },
      initial: "calling",
      states: {
        calling: {
          invoke: {
            id: "reserveInventory",
            src: "reserveInventory",
            input: stepInput("reserveInventory"),
            onDone: [
              {
                guard: "succeeded",
                target: "#orderSaga.capturingPayment",
                actions: { type: "touch", params: { step: "reserveInventory" } },
              },
              {
                guard: "rejected",
                target: "#orderSaga.compensating",
                actions: { type: "fail", params: { step: "reserveInventory" } },
              },
              {
                guard: { type: "canRetry", params: { budget: "forward" } },
                target: "waiting",
                actions: [{ type: "touch", params: { step: "reserveInventory" } }, "scheduleRetry"],
              },
              {
                target: "#orderSaga.compensating",
                actions: [
                  { type: "touch", params: { step: "reserveInventory" } },
                  { type: "fail", params: { step: "reserveInventory", why: "retries exhausted" } },
                ],
              },
            ],
          },
        },
        waiting: { after: { retryDelay: "calling" } },
      },
    },
    // The pivot. A cancellation before the first capture attempt compensates;
    // after an attempt (whose effect may have happened) it is only noted: a
    // declined capture compensates anyway, a successful one completes.
    // Exhausted retries leave the capture in doubt, so the saga is parked
    // rather than compensated (voiding a captured payment would be wrong).
    capturingPayment: {
      entry: "resetAttempts",
      on: { CANCEL: { actions: "recordCancel" } },
      initial: "calling",
      states: {
        calling: {
          // Not tried yet: a cancellation still compensates.
          on: {
            CANCEL: {
              guard: "notTriedYet",
              target: "#orderSaga.compensating",
              actions: "recordCancel",
            },
          },
          invoke: {
            id: "capturePayment",
            src: "capturePayment",
            input: stepInput("capturePayment"),
            onDone: [
              {
                guard: "succeeded",
                target: "#orderSaga.confirmingOrder",
                actions: { type: "touch", params: { step: "capturePayment" } },
              },
              {
                guard: "rejected",
                target: "#orderSaga.compensating",
                actions: { type: "fail", params: { step: "capturePayment" } },
              },
              {
                guard: { type: "canRetry", params: { budget: "forward" } },
                target: "waiting",
                actions: "scheduleRetry",
              },
              {
                target: "#orderSaga.needsAttention",
                actions: [
                  { type: "fail", params: { step: "capturePayment", why: "retries exhausted" } },
                  { type: "park", params: { state: "capturingPayment" } },
                ],
              },
            ],
          },
        },
        waiting: { after: { retryDelay: "calling" } },
      },
    },
    // After the pivot there is no going back: confirm is retried, also on
    // rejection, and parked when its budget is spent.
    confirmingOrder: {
      entry: "resetAttempts",
      on: { CANCEL: { actions: "recordCancel" } },
      initial: "calling",
      states: {
        calling: {
          invoke: {
            id: "confirmOrder",
            src: "confirmOrder",
            input: stepInput("confirmOrder"),
            onDone: [
              { guard: "succeeded", target: "#orderSaga.completed" },
              {
                guard: { type: "canRetry", params: { budget: "confirm" } },
                target: "waiting",
                actions: "scheduleRetry",
              },
              {
                target: "#orderSaga.needsAttention",
                actions: [
                  { type: "fail", params: { step: "confirmOrder", why: "retries exhausted" } },
                  { type: "park", params: { state: "confirmingOrder" } },
                ],
              },
            ],
          },
        },
        waiting: { after: { retryDelay: "calling" } },
      },
    },
    compensating: {
      always: [
        {
          guard: { type: "touched", params: { step: "reserveInventory" } },
          target: "releasingReservation",
        },
        { guard: { type: "touched", params: { step: "createOrder" } }, target: "cancellingOrder" },
        { target: "voidingPayment" },
      ],
    },
    // Compensations: retried on transient failure within their budget; a
    // rejection or a spent budget parks the saga, never drops it.
    releasingReservation: {
      entry: "resetAttempts",
      initial: "calling",
      states: {
        calling: {
          invoke: {
            id: "releaseReservation",
            src: "releaseReservation",
            input: stepInput("releaseReservation"),
            onDone: [
              // A reservation implies a created order, so the order is cancelled next.
              { guard: "succeeded", target: "#orderSaga.cancellingOrder" },
              {
                guard: "compensationRetryable",
                target: "waiting",
                actions: "scheduleRetry",
              },
              {
                target: "#orderSaga.needsAttention",
                actions: [
                  { type: "fail", params: { step: "releaseReservation" } },
                  { type: "park", params: { state: "releasingReservation" } },
                ],
              },
            ],
          },
        },
        waiting: { after: { retryDelay: "calling" } },
      },
    },
    cancellingOrder: {
      entry: "resetAttempts",
      initial: "calling",
      states: {
        calling: {
          invoke: {
            id: "cancelOrder",
            src: "cancelOrder",
            input: stepInput("cancelOrder"),
            onDone: [
              { guard: "succeeded", target: "#orderSaga.voidingPayment" },
              {
                guard: "compensationRetryable",
                target: "waiting",
                actions: "scheduleRetry",
              },
              {
                target: "#orderSaga.needsAttention",
                actions: [
                  { type: "fail", params: { step: "cancelOrder" } },
                  { type: "park", params: { state: "cancellingOrder" } },
                ],
              },
            ],
          },
        },
        waiting: { after: { retryDelay: "calling" } },
      },
    },
    voidingPayment: {
      entry: "resetAttempts",
      initial: "calling",
      states: {
        calling: {
          invoke: {
            id: "voidPayment",
            src: "voidPayment",
            input: stepInput("voidPayment"),
            onDone: [
              { guard: "succeeded", target: "#orderSaga.cancelled" },
              {
                guard: "compensationRetryable",
                target: "waiting",
                actions: "scheduleRetry",
              },
              {
                target: "#orderSaga.needsAttention",
                actions: [
                  { type: "fail", params: { step: "voidPayment" } },
                  { type: "park", params: { state: "voidingPayment" } },
                ],
              },
            ],
          },
        },
        waiting: { after: { retryDelay: "calling" } },
      },
    },
    needsAttention: {
      on: {
        RETRY: PARKABLE.map((state) => ({
          guard: { type: "parkedAt" as const, params: { state } },
          target: state,
          actions: "unpark" as const,
        })),
      },
    },
    completed: { type: "final" },
    cancelled: { type: "final" },
  },
});

export const orderSagaV1 = machine;
export type OrderSagaMachine = typeof machine;
