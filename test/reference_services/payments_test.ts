import assert from "node:assert/strict";
import { createPaymentsApp } from "../../tooling/reference_services/payments.ts";
import { send } from "./_helpers.ts";

const capture = (orderId: string) => ({
  body: { order_id: orderId, amount_cents: 1000, currency: "USD" },
});

Deno.test("capturing an authorization answers 200 with a capture id", async () => {
  const { app, state } = createPaymentsApp();
  const res = await send(app, "POST", "/payments/capture/auth-1", capture("o1"));
  assert.equal(res.status, 200);
  assert.match(res.body.capture_id, /^cap_/);
  assert.equal(state.get("auth-1")?.status, "captured");
  assert.equal(state.recorder.count("o1", "captured"), 1);
});

Deno.test("an authorization id starting with decline is declined with 402", async () => {
  const { app, state } = createPaymentsApp();
  const res = await send(app, "POST", "/payments/capture/decline-42", capture("o1"));
  assert.equal(res.status, 402);
  assert.deepEqual(res.body, { error: "payment_declined" });
  assert.equal(state.stats().totals.captured, 0);
});

Deno.test("the decline rate declines captures with the given probability", async () => {
  const { app } = createPaymentsApp({ declineRate: 0.5, random: () => 0.3 });
  assert.equal((await send(app, "POST", "/payments/capture/a", capture("o1"))).status, 402);
  const lucky = createPaymentsApp({ declineRate: 0.5, random: () => 0.7 });
  assert.equal((await send(lucky.app, "POST", "/payments/capture/a", capture("o1"))).status, 200);
});

Deno.test("voiding an open authorization answers 200, and again without a second effect", async () => {
  const { app, state } = createPaymentsApp();
  const res = await send(app, "POST", "/payments/void/auth-1", { body: { order_id: "o1" } });
  assert.equal(res.status, 200);
  assert.equal(res.body.status, "voided");
  assert.equal(
    (await send(app, "POST", "/payments/void/auth-1", { body: { order_id: "o1" } }))
      .status,
    200,
  );
  assert.equal(state.recorder.count("o1", "voided"), 1);
});

Deno.test("voiding a declined authorization succeeds", async () => {
  const { app } = createPaymentsApp();
  await send(app, "POST", "/payments/capture/decline-1", capture("o1"));
  const res = await send(app, "POST", "/payments/void/decline-1", { body: { order_id: "o1" } });
  assert.equal(res.status, 200);
});

Deno.test("voiding a captured authorization is a 409 already_captured", async () => {
  const { app, state } = createPaymentsApp();
  await send(app, "POST", "/payments/capture/auth-1", capture("o1"));
  const res = await send(app, "POST", "/payments/void/auth-1", { body: { order_id: "o1" } });
  assert.equal(res.status, 409);
  assert.equal(res.body.error, "already_captured");
  assert.equal(state.stats().totals.voided, 0);
});

Deno.test("capturing a voided authorization is a 409", async () => {
  const { app, state } = createPaymentsApp();
  await send(app, "POST", "/payments/void/auth-1", { body: { order_id: "o1" } });
  const res = await send(app, "POST", "/payments/capture/auth-1", capture("o1"));
  assert.equal(res.status, 409);
  assert.equal(res.body.error, "authorization_voided");
  assert.equal(state.stats().totals.captured, 0);
});

Deno.test("capturing twice under different keys captures once and answers 409", async () => {
  const { app, state } = createPaymentsApp();
  await send(app, "POST", "/payments/capture/auth-1", { ...capture("o1"), key: "k1" });
  const res = await send(app, "POST", "/payments/capture/auth-1", { ...capture("o1"), key: "k2" });
  assert.equal(res.status, 409);
  assert.equal(res.body.error, "already_captured");
  assert.equal(state.stats().totals.captured, 1);
});

Deno.test("capture and void bodies without order_id are 422", async () => {
  const { app } = createPaymentsApp();
  const captureRes = await send(app, "POST", "/payments/capture/a", {
    body: { amount_cents: 1, currency: "USD" },
  });
  assert.equal(captureRes.status, 422);
  assert.equal((await send(app, "POST", "/payments/void/a", { body: {} })).status, 422);
});
