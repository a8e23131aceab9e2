// Reference Payments service: captures and voids authorizations made
// by the edge API. An authorization id starting with "decline" is declined.
import type { Hono } from "hono";
import { z } from "zod";
import { type Outcome, readJson, respond } from "./http.ts";
import { createServiceApp, SandboxState, type ServiceOptions } from "./service.ts";

export interface PaymentsOptions extends ServiceOptions {
  /** Probability (0..1) that a capture is declined, on top of "decline…" ids. */
  declineRate?: number;
}

export const DECLINE_PREFIX = "decline";

const captureSchema = z.looseObject({
  order_id: z.string().min(1).max(200),
  amount_cents: z.number().int().nonnegative(),
  currency: z.string().regex(/^[A-Z]{3}$/, "an ISO-4217 code such as USD"),
});

const voidSchema = z.looseObject({ order_id: z.string().min(1).max(200) });

export type CaptureInput = z.infer<typeof captureSchema>;

/** Only authorizations that were captured or voided are kept; any other id is open. */
export interface Authorization {
  authorization_id: string;
  order_id: string;
  status: "captured" | "voided";
  capture_id?: string;
  amount_cents?: number;
  currency?: string;
}

export class PaymentsState extends SandboxState {
  readonly authorizations = new Map<string, Authorization>();
  declineRate: number;

  constructor(options: PaymentsOptions = {}) {
    super("payments", options);
    this.declineRate = z.number().min(0).max(1).parse(options.declineRate ?? 0);
  }

  get(authorizationId: string): Authorization | undefined {
    return this.authorizations.get(authorizationId);
  }

  capture(authorizationId: string, input: CaptureInput): Outcome {
    const existing = this.authorizations.get(authorizationId);
    if (existing?.status === "captured") {
      // Another key for a done capture (a same-key retry is replayed before this).
      return { status: 409, body: { error: "already_captured", capture_id: existing.capture_id } };
    }
    if (existing?.status === "voided") {
      return { status: 409, body: { error: "authorization_voided" } };
    }
    if (
      authorizationId.startsWith(DECLINE_PREFIX) ||
      (this.declineRate > 0 && this.random() < this.declineRate)
    ) {
      return { status: 402, body: { error: "payment_declined" } };
    }
    const captureId = `cap_${crypto.randomUUID()}`;
    this.authorizations.set(authorizationId, {
      authorization_id: authorizationId,
      order_id: input.order_id,
      status: "captured",
      capture_id: captureId,
      amount_cents: input.amount_cents,
      currency: input.currency,
    });
    this.recorder.effect(input.order_id, "captured");
    return {
      status: 200,
      body: {
        capture_id: captureId,
        authorization_id: authorizationId,
        order_id: input.order_id,
        status: "captured",
      },
    };
  }

  voidAuthorization(authorizationId: string, orderId: string): Outcome {
    const existing = this.authorizations.get(authorizationId);
    if (existing?.status === "captured") {
      return { status: 409, body: { error: "already_captured", capture_id: existing.capture_id } };
    }
    // Voiding a voided authorization is already done: success, no second effect.
    if (!existing) {
      this.authorizations.set(authorizationId, {
        authorization_id: authorizationId,
        order_id: orderId,
        status: "voided",
      });
      this.recorder.effect(orderId, "voided");
    }
    return {
      status: 200,
      body: { authorization_id: authorizationId, order_id: orderId, status: "voided" },
    };
  }

  protected clearDomain(): void {
    this.authorizations.clear();
  }
}

export function createPaymentsApp(
  options: PaymentsOptions = {},
): { app: Hono; state: PaymentsState } {
  const state = new PaymentsState(options);
  const app = createServiceApp(state, (app) => {
    app.post("/payments/capture/:authorization_id", async (c) => {
      const input = await readJson(c, captureSchema);
      return respond(c, state.capture(c.req.param("authorization_id"), input));
    });
    app.post("/payments/void/:authorization_id", async (c) => {
      const { order_id } = await readJson(c, voidSchema);
      return respond(c, state.voidAuthorization(c.req.param("authorization_id"), order_id));
    });
  });
  return { app, state };
}
