// Reference Inventory service: all-or-nothing reservations against
// per-SKU stock. SKUs starting with "OUT-OF-STOCK" have none unless set.
import type { Hono } from "hono";
import { z } from "zod";
import { type Outcome, readJson, respond } from "./http.ts";
import { createServiceApp, SandboxState, type ServiceOptions } from "./service.ts";

export interface InventoryOptions extends ServiceOptions {
  /** Stock of a SKU never set explicitly (default 1,000,000). */
  defaultStock?: number;
  /** Initial levels; `/_control/reset` returns to them. */
  stock?: Record<string, number>;
}

export const DEFAULT_STOCK = 1_000_000;
export const OUT_OF_STOCK_PREFIX = "OUT-OF-STOCK";

const reserveSchema = z.looseObject({
  order_id: z.string().min(1).max(200),
  items: z.array(z.looseObject({ sku: z.string().min(1), quantity: z.number().int().positive() }))
    .min(1),
});

const stockSchema = z.record(z.string().min(1), z.number().int().min(0));

export interface Reservation {
  reservation_id: string;
  order_id: string;
  /** Quantity per SKU, duplicate lines summed. */
  lines: Record<string, number>;
}

export class InventoryState extends SandboxState {
  readonly reservations = new Map<string, Reservation>();
  readonly defaultStock: number;
  #initialStock: Record<string, number>;
  #stock = new Map<string, number>();

  constructor(options: InventoryOptions = {}) {
    super("inventory", options);
    this.defaultStock = options.defaultStock ?? DEFAULT_STOCK;
    this.#initialStock = stockSchema.parse(options.stock ?? {});
    this.setStock(this.#initialStock);
  }

  available(sku: string): number {
    return this.#stock.get(sku) ?? (sku.startsWith(OUT_OF_STOCK_PREFIX) ? 0 : this.defaultStock);
  }

  /** Sets the given SKUs' levels; others keep theirs. */
  setStock(levels: Record<string, number>): void {
    for (const [sku, quantity] of Object.entries(levels)) this.#stock.set(sku, quantity);
  }

  /** Levels of every SKU set or touched so far. */
  stockLevels(): Record<string, number> {
    return Object.fromEntries(this.#stock);
  }

  reserve(orderId: string, items: { sku: string; quantity: number }[]): Outcome {
    const existing = this.reservations.get(orderId);
    if (existing) {
      // Reaching here means another key (a same-key retry is replayed before this).
      return {
        status: 409,
        body: { error: "reservation_exists", reservation_id: existing.reservation_id },
      };
    }
    const lines: Record<string, number> = {};
    for (const { sku, quantity } of items) lines[sku] = (lines[sku] ?? 0) + quantity;
    const short = Object.entries(lines)
      .filter(([sku, quantity]) => this.available(sku) < quantity)
      .map(([sku]) => sku);
    if (short.length > 0) {
      return { status: 409, body: { error: "insufficient_stock", skus: short } };
    }
    for (const [sku, quantity] of Object.entries(lines)) {
      this.#stock.set(sku, this.available(sku) - quantity);
    }
    const reservation = { reservation_id: `rsv_${crypto.randomUUID()}`, order_id: orderId, lines };
    this.reservations.set(orderId, reservation);
    this.recorder.effect(orderId, "reserved");
    return { status: 201, body: { reservation_id: reservation.reservation_id, order_id: orderId } };
  }

  release(orderId: string): Outcome {
    const reservation = this.reservations.get(orderId);
    if (!reservation) return { status: 404, body: { error: "reservation_not_found" } };
    for (const [sku, quantity] of Object.entries(reservation.lines)) {
      this.#stock.set(sku, this.available(sku) + quantity);
    }
    this.reservations.delete(orderId);
    this.recorder.effect(orderId, "released");
    return {
      status: 200,
      body: { reservation_id: reservation.reservation_id, order_id: orderId, status: "released" },
    };
  }

  protected clearDomain(): void {
    this.reservations.clear();
    this.#stock.clear();
    this.setStock(this.#initialStock);
  }
}

export function createInventoryApp(
  options: InventoryOptions = {},
): { app: Hono; state: InventoryState } {
  const state = new InventoryState(options);
  const app = createServiceApp(
    state,
    (app) => {
      app.post("/reservations", async (c) => {
        const { order_id, items } = await readJson(c, reserveSchema);
        return respond(c, state.reserve(order_id, items));
      });
      app.delete("/reservations/:order_id", (c) => {
        return respond(c, state.release(c.req.param("order_id")));
      });
    },
    (control) => {
      control.get("/stock", (c) => c.json(state.stockLevels()));
      control.post("/stock", async (c) => {
        state.setStock(await readJson(c, stockSchema));
        return c.json(state.stockLevels());
      });
    },
  );
  return { app, state };
}
