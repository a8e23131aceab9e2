// Reference Orders service: creates, confirms and cancels orders.
// A customer id starting with "reject" is refused, to provoke compensation.
import type { Hono } from "hono";
import { z } from "zod";
import { type Outcome, readJson, respond } from "./http.ts";
import { IDEMPOTENCY_HEADER } from "./idempotency.ts";
import { createServiceApp, SandboxState, type ServiceOptions } from "./service.ts";

export type OrdersOptions = ServiceOptions;

export type OrderStatus = "created" | "confirmed" | "cancelled";

const itemSchema = z.looseObject({
  sku: z.string().min(1),
  quantity: z.number().int().positive(),
  unit_price_cents: z.number().int().nonnegative().optional(),
});

const createOrderSchema = z.looseObject({
  order_id: z.string().min(1).max(200),
  customer_id: z.string().min(1),
  items: z.array(itemSchema).min(1),
  total_cents: z.number().int().nonnegative(),
  currency: z.string().regex(/^[A-Z]{3}$/, "an ISO-4217 code such as USD"),
});

const cancelOrderSchema = z.looseObject({ reason: z.string() });

export type CreateOrderInput = z.infer<typeof createOrderSchema>;

export interface OrderRecord {
  order_id: string;
  customer_id: string;
  items: CreateOrderInput["items"];
  total_cents: number;
  currency: string;
  status: OrderStatus;
  /** The key that created it: the same order under another key is a conflict. */
  idempotency_key: string | null;
  cancel_reason?: string;
}

export class OrdersState extends SandboxState {
  readonly orders = new Map<string, OrderRecord>();

  constructor(options: OrdersOptions = {}) {
    super("orders", options);
  }

  get(orderId: string): OrderRecord | undefined {
    return this.orders.get(orderId);
  }

  create(input: CreateOrderInput, idempotencyKey?: string): Outcome {
    const existing = this.orders.get(input.order_id);
    if (existing) {
      // Reaching here means the key differs (a same-key retry is replayed before this).
      return { status: 409, body: { error: "order_exists", status: existing.status } };
    }
    if (input.customer_id.startsWith("reject")) {
      return { status: 422, body: { error: "customer_rejected" } };
    }
    if (input.items.every((item) => item.unit_price_cents !== undefined)) {
      const sum = input.items.reduce((s, i) => s + i.quantity * (i.unit_price_cents ?? 0), 0);
      if (sum !== input.total_cents) {
        return { status: 422, body: { error: "total_mismatch", expected_total_cents: sum } };
      }
    }
    this.orders.set(input.order_id, {
      order_id: input.order_id,
      customer_id: input.customer_id,
      items: input.items,
      total_cents: input.total_cents,
      currency: input.currency,
      status: "created",
      idempotency_key: idempotencyKey ?? null,
    });
    this.recorder.effect(input.order_id, "created");
    return { status: 201, body: { order_id: input.order_id, status: "created" } };
  }

  confirm(orderId: string): Outcome {
    const order = this.orders.get(orderId);
    if (!order || order.status !== "created") {
      return {
        status: 409,
        body: { error: "order_not_confirmable", status: order?.status ?? "unknown" },
      };
    }
    order.status = "confirmed";
    this.recorder.effect(orderId, "confirmed");
    return { status: 200, body: { order_id: orderId, status: "confirmed" } };
  }

  cancel(orderId: string, reason: string): Outcome {
    const order = this.orders.get(orderId);
    if (!order) return { status: 404, body: { error: "order_not_found" } };
    if (order.status === "confirmed") {
      return { status: 409, body: { error: "order_already_confirmed", status: order.status } };
    }
    // Cancelling a cancelled order is already done: success, no second effect.
    if (order.status === "created") {
      order.status = "cancelled";
      order.cancel_reason = reason;
      this.recorder.effect(orderId, "cancelled");
    }
    return { status: 200, body: { order_id: orderId, status: "cancelled" } };
  }

  protected clearDomain(): void {
    this.orders.clear();
  }
}

export function createOrdersApp(options: OrdersOptions = {}): { app: Hono; state: OrdersState } {
  const state = new OrdersState(options);
  const app = createServiceApp(state, (app) => {
    app.post("/orders", async (c) => {
      const input = await readJson(c, createOrderSchema);
      return respond(c, state.create(input, c.req.header(IDEMPOTENCY_HEADER)));
    });
    app.post("/orders/:order_id/confirmation", async (c) => {
      await readJson(c, z.looseObject({}));
      return respond(c, state.confirm(c.req.param("order_id")));
    });
    app.post("/orders/:order_id/cancellation", async (c) => {
      const { reason } = await readJson(c, cancelOrderSchema);
      return respond(c, state.cancel(c.req.param("order_id"), reason));
    });
  });
  return { app, state };
}
