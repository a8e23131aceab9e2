// Data shapes shared by the saga machine, the step executor and intake.
// Pure types: no runtime code.

export interface OrderItem {
  sku: string;
  quantity: number;
  unitPriceCents: number;
}

/** The order as the saga carries it (camelCase of the OrderPlaced payload). */
export interface OrderData {
  orderId: string;
  customerId: string;
  items: OrderItem[];
  totalCents: number;
  currency: string;
  authorizationId: string;
}

export const FORWARD_STEPS = [
  "createOrder",
  "reserveInventory",
  "capturePayment",
  "confirmOrder",
] as const;
export const COMPENSATION_STEPS = ["releaseReservation", "cancelOrder", "voidPayment"] as const;
export type ForwardStep = typeof FORWARD_STEPS[number];
export type CompensationStep = typeof COMPENSATION_STEPS[number];
export type StepName = ForwardStep | CompensationStep;

/** What a step actor is given. `reason` is set for cancelOrder. */
export interface StepInput {
  step: StepName;
  order: OrderData;
  reason?: string;
}

/** A step's result as the machine sees it (the engine's contract with every saga). */
export type { StepOutput } from "./saga_definition.ts";
