// The order saga as a saga type: everything the engine, intake, admin API,
// page, inspector and tools need to know about it, in one declaration.
//
//   starts on   OrderPlaced (payload.order_id = the outbox row's order_id)
//   accepts     OrderCancellationRequested → CANCEL
//   steps       createOrder → reserveInventory → capturePayment (pivot) → confirmOrder;
//               compensations releaseReservation, cancelOrder, voidPayment
//   rules       canCancel: no capture attempted yet; canRetry: parked
import type { AnyMachineSnapshot } from "xstate";
import {
  ORDER_SAGA_ID,
  ORDER_SAGA_VERSION,
  orderSagaV1,
  type SagaContext,
  type SagaInput,
  statusOf,
  upgradeOrderSaga,
} from "./order_saga.ts";
import { canCancel, canRetry } from "./order_saga.ts";
import {
  cancellationSchema,
  orderData,
  orderPlacedSchema,
  totalMatchesLines,
} from "./order_events.ts";
import { ORDER_STEPS } from "./order_steps.ts";
import type { OrderData } from "./order_types.ts";
import { outsideEvent, type SagaDefinition, startEvent } from "./saga_definition.ts";

const context = (s: AnyMachineSnapshot) => s.context as SagaContext;

/** The order fields an operator needs to recognise a saga in the inspector, and nothing else. */
function safeOrder(order: unknown): unknown {
  if (typeof order !== "object" || order === null) return order;
  const { orderId, totalCents, currency } = order as Partial<OrderData>;
  return { orderId, totalCents, currency };
}

export const orderSaga: SagaDefinition = {
  name: ORDER_SAGA_ID,
  versions: { [ORDER_SAGA_VERSION]: { machine: orderSagaV1, upgrade: upgradeOrderSaga } },
  current: ORDER_SAGA_VERSION,
  start: startEvent({
    eventType: "OrderPlaced",
    schema: orderPlacedSchema,
    idField: "order_id",
    check: totalMatchesLines,
    input: (payload, { budget }): SagaInput => ({ order: orderData(payload), budget }),
    inputFromContext(raw) {
      const c = raw as Partial<SagaInput> | null;
      if (!c?.order || !c.budget) {
        throw new TypeError("Snapshot has no context.order and context.budget to replay from");
      }
      return { order: c.order, budget: c.budget } satisfies SagaInput;
    },
  }),
  events: {
    OrderCancellationRequested: outsideEvent({
      schema: cancellationSchema,
      idField: "order_id",
      toRequest: (p) => ({ kind: "cancel", reason: p.reason, requestedBy: p.requested_by ?? null }),
    }),
  },
  cancel: {
    event: (reason) => ({ type: "CANCEL", reason }),
    taken: (s) => context(s).cancelReason !== null,
    outboxEvent: (id, reason, requestedBy) => ({
      eventType: "OrderCancellationRequested",
      payload: { order_id: id, reason, requested_by: requestedBy },
    }),
  },
  steps: ORDER_STEPS,
  pivot: "capturePayment",
  attempts: (s) => context(s).attempts,
  statusOf,
  canCancel(saga) {
    if (saga.status === "COMPLETED" || saga.status === "CANCELLED") {
      return { allowed: false, reason: "the saga has finished" };
    }
    return canCancel(saga.snapshot as never);
  },
  canRetry,
  privacy: {
    context(raw) {
      if (typeof raw !== "object" || raw === null || !("order" in raw)) return raw;
      return { ...raw, order: safeOrder(raw.order) };
    },
    // The strings that identify a customer or a payment in this order.
    secrets(raw) {
      const order = (raw as { order?: Partial<OrderData> } | null)?.order;
      if (!order) return [];
      const values = [
        order.customerId,
        order.authorizationId,
        ...(order.items ?? []).map((i) => i?.sku),
      ];
      return values.filter((v): v is string => typeof v === "string" && v.length > 0);
    },
  },
};
