// What a saga type is, declared once: its machine versions, the event that
// starts it, the events it accepts from outside, its steps (service, request,
// classification), its pivot, and the rules an operator action must obey.
// The engine, intake, admin API, page, inspector and tools derive everything
// from a definition and know no saga by name (machines/registry.ts lists
// them). Pure, as everything in machines/: no I/O, clock or randomness.
import type { AnyMachineSnapshot, AnyStateMachine } from "xstate";
import type { z } from "zod";

/** The ledger's `status` column: what an operator and the claim query see of a saga. */
export type LedgerStatus = "RUNNING" | "COMPLETED" | "CANCELLED" | "NEEDS_ATTENTION";

/** An operator rule's answer: allowed, or why not (in words an operator understands). */
export type Verdict = { allowed: true } | { allowed: false; reason: string };

/**
 * Calls allowed per step, from configuration (MAX_ATTEMPTS_*), handed to every
 * new saga in its input: forward steps before the pivot, the steps after it
 * (retried on rejection too), and each compensation.
 */
export interface RetryBudget {
  forward: number;
  confirm: number;
  compensation: number;
}

/** What the engine hands a definition when a saga starts. */
export interface StartSettings {
  budget: RetryBudget;
}

/**
 * A step's result as a machine sees it (the `output` of its invoke's done
 * event). Transient failures carry the delay the engine chose (backoff with
 * jitter, Retry-After), so machines stay free of clocks and randomness; a
 * rejection carries one too, for machines that retry a step on rejection.
 */
export type StepOutput =
  | { outcome: "ok"; status: number; body?: unknown }
  | { outcome: "rejected"; status: number; reason: string; body?: unknown; retryInMs?: number }
  | { outcome: "transient"; status?: number; reason: string; retryInMs: number };

/** A request relative to its service's base URL. Path parameters are already encoded. */
export interface StepRequest {
  method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
  path: string;
  /** JSON-serialisable; absent when the request has no body. */
  body?: unknown;
}

export type Classification = "ok" | "rejected" | "transient";

/**
 * One step: the service it calls (a logical name the configuration maps to a
 * base URL), the request its invoke input becomes, and where its answers are
 * read differently from the default (2xx ok; 4xx but 408 and 429 a business
 * rejection, never retried; anything else transient).
 */
export interface StepDefinition {
  service: string;
  request(input: unknown): StepRequest;
  /** The classification of an answer where it differs from the default; undefined keeps it. */
  classify?(status: number, body: unknown): Classification | undefined;
}

/** An event payload's schema, with the field that names the saga (it must equal `order_id`). */
export interface PayloadSchema<P> {
  schema: z.ZodType<P>;
  idField: keyof P & string;
}

/** The event that starts a saga of this type. */
export interface StartEvent<P = unknown> extends PayloadSchema<P> {
  eventType: string;
  /** A rule across fields the schema cannot state: why the payload is invalid, or null. */
  check?(payload: P): string | null;
  /** The machine's input. */
  input(payload: P, settings: StartSettings): unknown;
  /** The same input, recovered from any persisted context (a replay starts from it). */
  inputFromContext(context: unknown): unknown;
}

/**
 * An event from outside for a saga that exists. The one kind the ledger records
 * today is a cancellation request: kept on the saga whatever its status, and
 * delivered (as `cancel.event`) when the saga next runs, if it still can be.
 */
export interface OutsideEvent<P = unknown> extends PayloadSchema<P> {
  toRequest(payload: P): { kind: "cancel"; reason: string; requestedBy: string | null };
}

/** How a recorded cancellation reaches the machine, and how an operator asks for one. */
export interface CancelProtocol {
  /** The machine event a recorded cancellation request becomes. */
  event(reason: string): { type: string } & Record<string, unknown>;
  /** Whether the machine has already taken a cancellation in (it is then not sent again). */
  taken(snapshot: AnyMachineSnapshot): boolean;
  /** The outbox event an operator's cancellation is written as: it takes the producer's path. */
  outboxEvent(
    id: string,
    reason: string,
    requestedBy: string,
  ): { eventType: string; payload: Record<string, unknown> };
}

/** Fills in what older persisted snapshots of a version lack (a pure function). */
export type SnapshotUpgrade = (
  persisted: { value: unknown; context: unknown },
) => { value: unknown; context: unknown };

export interface SagaVersion {
  machine: AnyStateMachine;
  upgrade?: SnapshotUpgrade;
}

/** A saga as the ledger holds it, for the operator rules. */
export interface LedgerSaga {
  status: LedgerStatus;
  snapshot: AnyMachineSnapshot;
}

export interface SagaDefinition {
  /** Unique; also the machines' id. */
  name: string;
  /** Every version that may still own a persisted snapshot (`machine_version` → machine). */
  versions: Readonly<Record<string, SagaVersion>>;
  /** The version new sagas start on. */
  current: string;
  start: StartEvent<never>;
  /** event_type → the outside event. */
  events: Readonly<Record<string, OutsideEvent<never>>>;
  cancel: CancelProtocol;
  /** step name (the invoke's `src`) → the step. */
  steps: Readonly<Record<string, StepDefinition>>;
  /** The step after which the saga never compensates on its own; null when none. */
  pivot: string | null;
  /** Failed calls of the current step so far (drives the backoff). */
  attempts(snapshot: AnyMachineSnapshot): number;
  /** The ledger status of a snapshot. */
  statusOf(snapshot: AnyMachineSnapshot): LedgerStatus;
  /** Whether a cancellation can still compensate this saga. */
  canCancel(saga: LedgerSaga): Verdict;
  /** Whether an operator retry may resume this saga. */
  canRetry(saga: LedgerSaga): Verdict;
  /** What the Stately inspector may see: a context without customer data, and strings to redact. */
  privacy?: {
    context(context: unknown): unknown;
    secrets(context: unknown): string[];
  };
}

/**
 * Typed help for writing a definition: the start and outside events keep their
 * payload types (so `input` and `toRequest` are checked against the schema).
 */
export function startEvent<P>(e: StartEvent<P>): StartEvent<never> {
  return e as unknown as StartEvent<never>;
}

export function outsideEvent<P>(e: OutsideEvent<P>): OutsideEvent<never> {
  return e as unknown as OutsideEvent<never>;
}

/** A step whose input type is its machine's (checked where the step is written). */
export function step<I>(s: {
  service: string;
  request(input: I): StepRequest;
  classify?(status: number, body: unknown): Classification | undefined;
}): StepDefinition {
  return s as StepDefinition;
}

/** A compensation that finds nothing to undo has reached the state it wanted. */
export const notFoundIsDone = (status: number): Classification | undefined =>
  status === 404 ? "ok" : undefined;
