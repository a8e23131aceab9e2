// The order saga, version 1. Pure: no I/O, clock or randomness.
//
//   creatingOrder → reservingInventory → capturingPayment (pivot) → confirmingOrder → completed
//        │                 │                   │ declined (402)           │ retries exhausted
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
// The pivot is a one-way door. Before the capture is first sent the runner
// applies ATTEMPT, and that is persisted before the request leaves: from then
// on `captureAttempted` is true for good (an operator RETRY resets the attempt
// count, never this). Every transition into compensation requires it to be
// false, except the one a definitive decline (a business rejection of the
// capture, which proves nothing was captured) takes. So after a capture that
// timed out, crashed or was parked, nothing voids a payment that may be taken.
//
// A step a forward call *may* have done (ok, or a transient failure whose
// effect is unknown) is "touched" and gets compensated; compensations treat
// "nothing to undo" as success, so undoing a maybe is safe.
import { and, type AnyMachineSnapshot, assign, fromPromise, setup } from "xstate";
import type { ForwardStep, OrderData, StepInput, StepName, StepOutput } from "./order_types.ts";
import type { LedgerSaga, LedgerStatus, RetryBudget, Verdict } from "./saga_definition.ts";

export type { RetryBudget, Verdict };

export const ORDER_SAGA_ID = "orderSaga";
export const ORDER_SAGA_VERSION = "order-saga@1";

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
  /** A capture request may have left: never compensate unless it is declined. Never reset. */
  captureAttempted: boolean;
  cancelReason: string | null;
  /** Why the saga compensates or is parked. */
  failure: { step: StepName; reason: string } | null;
  /** The step state a RETRY resumes, while parked in needsAttention. */
  parkedAt: StepStateName | null;
}

export type SagaEvent =
  | { type: "CANCEL"; reason: string }
  | { type: "RETRY" }
  | { type: "ATTEMPT" };

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

const SAGA = `#${ORDER_SAGA_ID}`;

const machineSetup = setup({
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
    /** The guard on every way into compensation but a declined capture. */
    captureNeverAttempted: ({ context }) => !context.captureAttempted,
    // A rejected compensation cannot be fixed by retrying: it parks at once.
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
    markCaptureAttempted: assign({ captureAttempted: true }),
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
});

type MachineConfig = Parameters<typeof machineSetup.createMachine>[0];
type Action = MachineConfig["entry"];

/** Into compensation (when `guard` holds), allowed only while no capture was ever attempted. */
const compensate = (actions: Action, guard?: string) => ({
  guard: guard ? and([guard, "captureNeverAttempted"]) : "captureNeverAttempted",
  target: `${SAGA}.compensating`,
  actions,
});

/** Parks the saga at `state`, with why. */
const parkAt = (state: StepStateName, step: StepName, why?: string, first: Action[] = []) => ({
  target: `${SAGA}.needsAttention`,
  actions: [
    ...first,
    { type: "fail" as const, params: why ? { step, why } : { step } },
    { type: "park" as const, params: { state } },
  ],
});

const retryLater = (guard: unknown, extra: Action[] = []) => ({
  guard,
  target: "waiting",
  actions: [...extra, "scheduleRetry"],
});

/** A step state: `calling` invokes the step; `waiting` is the retry delay before calling again. */
function stepState(step: StepName, onDone: unknown[], on?: Record<string, unknown>) {
  return {
    entry: "resetAttempts",
    initial: "calling",
    ...(on ? { on } : {}),
    states: {
      calling: { invoke: { id: step, src: step, input: stepInput(step), onDone } },
      waiting: { after: { retryDelay: "calling" } },
    },
  };
}

/** How a forward step answers each outcome (see forwardStep). */
interface ForwardRules {
  /** The state a success leads to. */
  next: StepStateName | "completed";
  /** The retry budget it spends. */
  budget: "forward" | "confirm";
  /** A rejection compensates, or (after the pivot) is retried like a transient failure. */
  rejected: "compensate" | "retry";
  /** A spent budget compensates what it may have done, or parks the saga. */
  exhausted: "compensate" | "park";
  /** Whether a success records the step as done (so compensation undoes it). */
  touches: boolean;
  /** The pivot: done first on every outcome, and a rejection compensates although attempted. */
  pivot?: boolean;
  on: Record<string, unknown>;
}

/**
 * A forward step: success moves on; a rejection compensates (or is retried);
 * a transient failure is retried within its budget, and when that is spent
 * the saga compensates what the step may have done (or is parked). Into
 * compensation only while no capture was ever attempted, except a pivot's
 * own rejection: Payments' definitive "no".
 */
function forwardStep(step: ForwardStep, state: StepStateName, r: ForwardRules) {
  const mark: Action[] = r.pivot ? ["markCaptureAttempted"] : [];
  const touch: Action[] = r.touches ? [{ type: "touch", params: { step } }] : [];
  // A failure whose effect is unknown is undone later, so it counts as done;
  // after an attempted capture nothing is undone, so there is nothing to note.
  const maybe = r.exhausted === "compensate" ? touch : [];
  const fail = (why?: string): Action => ({ type: "fail", params: why ? { step, why } : { step } });
  const onRejected = r.rejected === "retry"
    ? []
    : r.pivot
    ? [{ guard: "rejected", target: `${SAGA}.compensating`, actions: [...mark, fail()] }]
    : [compensate(fail(), "rejected")];
  return stepState(step, [
    { guard: "succeeded", target: `${SAGA}.${r.next}`, actions: [...mark, ...touch] },
    ...onRejected,
    retryLater({ type: "canRetry", params: { budget: r.budget } }, [...mark, ...maybe]),
    r.exhausted === "compensate"
      ? compensate([...maybe, fail("retries exhausted")] as Action)
      : parkAt(state, step, "retries exhausted", mark),
  ], r.on);
}

/** A compensation: retried on transient failure within its budget; otherwise parked, never dropped. */
function compensationStep(step: StepName, state: StepStateName, next: string) {
  return stepState(step, [
    { guard: "succeeded", target: `${SAGA}.${next}` },
    retryLater("compensationRetryable"),
    parkAt(state, step),
  ]);
}

const machine = machineSetup.createMachine({
  id: ORDER_SAGA_ID,
  context: ({ input }) => ({
    order: input.order,
    budget: input.budget,
    attempts: 0,
    retryInMs: 0,
    touched: [],
    captureAttempted: false,
    cancelReason: null,
    failure: null,
    parkedAt: null,
  }),
  initial: "creatingOrder",
  // The factories build plain configs; XState checks them at creation.
  states: ({
    creatingOrder: forwardStep("createOrder", "creatingOrder", {
      next: "reservingInventory",
      budget: "forward",
      rejected: "compensate",
      exhausted: "compensate",
      touches: true,
      on: { CANCEL: compensate("recordCancel") },
    }),
    reservingInventory: forwardStep("reserveInventory", "reservingInventory", {
      next: "capturingPayment",
      budget: "forward",
      rejected: "compensate",
      exhausted: "compensate",
      touches: true,
      on: { CANCEL: compensate("recordCancel") },
    }),
    // The pivot. A cancellation compensates only while no capture was ever
    // attempted; afterwards it is noted (the parent's CANCEL) and ignored. A
    // decline compensates; a spent budget leaves the capture in doubt, so the
    // saga is parked rather than compensated.
    capturingPayment: forwardStep("capturePayment", "capturingPayment", {
      next: "confirmingOrder",
      budget: "forward",
      rejected: "compensate",
      exhausted: "park",
      touches: true,
      pivot: true,
      on: {
        CANCEL: [compensate("recordCancel"), { actions: "recordCancel" }],
        // Persisted before the request is sent: the runner asks `can(ATTEMPT)`.
        ATTEMPT: { guard: "captureNeverAttempted", actions: "markCaptureAttempted" },
      },
    }),
    // After the pivot there is no going back: confirm is retried, also on
    // rejection, and parked when its budget is spent.
    confirmingOrder: forwardStep("confirmOrder", "confirmingOrder", {
      next: "completed",
      budget: "confirm",
      rejected: "retry",
      exhausted: "park",
      touches: false,
      on: { CANCEL: { actions: "recordCancel" } },
    }),
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
    // A reservation implies a created order, so the order is cancelled next.
    releasingReservation: compensationStep(
      "releaseReservation",
      "releasingReservation",
      "cancellingOrder",
    ),
    cancellingOrder: compensationStep("cancelOrder", "cancellingOrder", "voidingPayment"),
    voidingPayment: compensationStep("voidPayment", "voidingPayment", "cancelled"),
    needsAttention: {
      on: {
        // Noted for the record; what it may still do is decided when the saga runs again.
        CANCEL: { actions: "recordCancel" },
        RETRY: PARKABLE.map((state) => ({
          guard: { type: "parkedAt" as const, params: { state } },
          target: state,
          actions: "unpark" as const,
        })),
      },
    },
    completed: { type: "final" },
    cancelled: { type: "final" },
  }) as MachineConfig["states"],
});

export const orderSagaV1 = machine;
export type OrderSagaMachine = typeof machine;

interface PersistedForm {
  value: unknown;
  context: unknown;
}

/**
 * Snapshots persisted before `captureAttempted` existed lack it. They load on
 * this version, with the fact inferred conservatively from what they do have:
 * a saga that reached the capture may have sent one (before this fact existed
 * nothing recorded a request about to leave), so it counts as attempted.
 */
export function upgradeOrderSaga(persisted: PersistedForm): PersistedForm {
  const context = persisted.context as Partial<SagaContext> | null;
  if (!context || typeof context.captureAttempted === "boolean") return persisted;
  const top = typeof persisted.value === "string"
    ? persisted.value
    : Object.keys(persisted.value as Record<string, unknown>)[0];
  const attempted = (context.touched ?? []).includes("capturePayment") ||
    context.failure?.step === "capturePayment" ||
    context.parkedAt === "capturingPayment" || context.parkedAt === "confirmingOrder" ||
    top === "capturingPayment" || top === "confirmingOrder" || top === "completed";
  return { ...persisted, context: { ...context, captureAttempted: attempted } };
}

/**
 * Whether a cancellation can still compensate this saga. The one answer to
 * "can it be cancelled?": the admin API asks it, and the machine applies the
 * same rule (`captureNeverAttempted`) when the cancellation reaches the saga.
 */
export function canCancel(
  snapshot: { status: string; context: Pick<SagaContext, "captureAttempted"> },
): Verdict {
  if (snapshot.status === "done") return { allowed: false, reason: "the saga has finished" };
  if (snapshot.context.captureAttempted) {
    return {
      allowed: false,
      reason: "a payment capture has been attempted, so the payment may be taken; " +
        "the order can no longer be cancelled (only a declined capture compensates)",
    };
  }
  return { allowed: true };
}

/** The ledger status of a snapshot: its final state's, parked, or running. */
export function statusOf(snapshot: Pick<AnyMachineSnapshot, "status" | "value">): LedgerStatus {
  const top = typeof snapshot.value === "string"
    ? snapshot.value
    : Object.keys(snapshot.value as Record<string, unknown>)[0];
  if (snapshot.status === "done") return top === "cancelled" ? "CANCELLED" : "COMPLETED";
  if (top === "needsAttention") return "NEEDS_ATTENTION";
  return "RUNNING";
}

/**
 * Whether an operator retry may resume this saga: only a parked one. Parked by
 * the machine, RETRY resumes the step it parked at; parked by the engine (an
 * unexpected error, the snapshot still in a step state), the runner simply
 * runs it again.
 */
export function canRetry(saga: LedgerSaga): Verdict {
  if (saga.status !== "NEEDS_ATTENTION") {
    return {
      allowed: false,
      reason: `saga is ${saga.status}; only a NEEDS_ATTENTION saga can be retried`,
    };
  }
  if (statusOf(saga.snapshot) === "NEEDS_ATTENTION" && !saga.snapshot.can({ type: "RETRY" })) {
    return { allowed: false, reason: "the saga was parked with no step to resume" };
  }
  return { allowed: true };
}
