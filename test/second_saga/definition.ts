// The parcel saga as a saga type: everything the orchestrator needs to run it,
// declared here and nowhere else. Registered by the test that uses it.
import { z } from "zod";
import type { AnyMachineSnapshot } from "xstate";
import {
  notFoundIsDone,
  outsideEvent,
  type SagaDefinition,
  startEvent,
  step,
} from "../../machines/saga_definition.ts";
import { type Parcel, type ParcelContext, parcelSagaV1 } from "./machine.ts";

export const PARCEL_SAGA_VERSION = "parcel-saga@1";

const parcelBooked = z.object({
  parcel_id: z.uuid("must be a UUID"),
  weight_grams: z.number().int("must be an integer").min(1, "must be greater than 0"),
  destination: z.string().min(1, "must not be empty"),
});
const parcelRecalled = z.object({ parcel_id: z.uuid("must be a UUID"), reason: z.string() });

const context = (s: AnyMachineSnapshot) => s.context as ParcelContext;
const top = (s: Pick<AnyMachineSnapshot, "value">) =>
  typeof s.value === "string" ? s.value : Object.keys(s.value)[0];
const id = (i: { parcel: Parcel }) => encodeURIComponent(i.parcel.parcelId);

export const parcelSaga: SagaDefinition = {
  name: "parcelSaga",
  versions: { [PARCEL_SAGA_VERSION]: { machine: parcelSagaV1 } },
  current: PARCEL_SAGA_VERSION,
  start: startEvent({
    eventType: "ParcelBooked",
    schema: parcelBooked,
    idField: "parcel_id",
    check: (p) => p.weight_grams > 30_000 ? `weight_grams ${p.weight_grams} is over 30 kg` : null,
    input: (p, { budget }) => ({
      parcel: {
        parcelId: p.parcel_id.toLowerCase(),
        weightGrams: p.weight_grams,
        destination: p.destination,
      },
      budget,
    }),
    inputFromContext: (c) => {
      const { parcel, budget } = c as ParcelContext;
      return { parcel, budget };
    },
  }),
  events: {
    ParcelRecalled: outsideEvent({
      schema: parcelRecalled,
      idField: "parcel_id",
      toRequest: (p) => ({ kind: "cancel", reason: p.reason, requestedBy: null }),
    }),
  },
  cancel: {
    event: (reason) => ({ type: "RECALL", reason }),
    taken: (s) => context(s).cancelReason !== null,
    outboxEvent: (parcelId, reason) => ({
      eventType: "ParcelRecalled",
      payload: { parcel_id: parcelId, reason },
    }),
  },
  steps: {
    pickUp: step<{ parcel: Parcel }>({
      service: "depot",
      request: ({ parcel }) => ({
        method: "POST",
        path: "/pickups",
        body: { parcel_id: parcel.parcelId, weight_grams: parcel.weightGrams },
      }),
    }),
    deliver: step<{ parcel: Parcel }>({
      service: "couriers",
      request: (i) => ({
        method: "POST",
        path: `/deliveries/${id(i)}`,
        body: { destination: i.parcel.destination },
      }),
    }),
    returnToSender: step<{ parcel: Parcel }>({
      service: "depot",
      request: (i) => ({ method: "DELETE", path: `/pickups/${id(i)}` }),
      classify: notFoundIsDone,
    }),
  },
  pivot: "deliver",
  attempts: (s) => context(s).attempts,
  statusOf: (s) =>
    s.status === "done"
      ? top(s) === "returned" ? "CANCELLED" : "COMPLETED"
      : top(s) === "needsAttention"
      ? "NEEDS_ATTENTION"
      : "RUNNING",
  canCancel: ({ status, snapshot }) => {
    if (status === "COMPLETED" || status === "CANCELLED") {
      return { allowed: false, reason: "the saga has finished" };
    }
    return context(snapshot).deliveryAttempted || top(snapshot) !== "pickingUp"
      ? {
        allowed: false,
        reason: "a delivery may be under way; the parcel can no longer be recalled",
      }
      : { allowed: true };
  },
  canRetry: ({ status }) =>
    status === "NEEDS_ATTENTION"
      ? { allowed: true }
      : { allowed: false, reason: `saga is ${status}; only a parked parcel can be retried` },
};
