// The benchmark's Restate peer: the service endpoint (deployment) the
// restate-server invokes. Two forms of the order saga, each making the
// orchestrator's four HTTP requests (saga_steps.cjs) inside `ctx.run`:
//
//   OrderSaga         a Restate workflow keyed by order id; its `run`
//                     handler is four ctx.run steps.
//   OrderSagaMachine  the same saga as an XState machine made durable by
//                     @restatedev/xstate: each step an invoked promise actor,
//                     each transition a Restate invocation.
//
// Runs under the benchmark's Node (the SDK needs Node >= 22), with the SDK
// installed into .data/bench by the benchmark, never a dependency of the
// orchestrator. Listens on a free loopback port (HTTP/2, as `restate.serve`
// does) and prints {"ready":true,"port":…}; the benchmark registers it with
// the server and sends the invocations through the server's ingress.
//
// env: PEER_DIR, ORDERS_SERVICE_URL, INVENTORY_SERVICE_URL, PAYMENTS_SERVICE_URL
"use strict";
const { createRequire } = require("node:module");
const fs = require("node:fs");
const http2 = require("node:http2");
const path = require("node:path");
const { STEPS, callStep, serviceUrlsFromEnv } = require("./saga_steps.cjs");

const peer = createRequire(path.join(process.env.PEER_DIR, "package.json"));
const restate = peer("@restatedev/restate-sdk");
const { setup } = peer("xstate");
const { xstate } = peer("@restatedev/xstate");
const { fromPromise } = peer("@restatedev/xstate/promise");

const urls = serviceUrlsFromEnv(process.env);

// Transient failures are retried as the orchestrator retries them (a few
// attempts with backoff); the benchmark's services answer every call.
const STEP_RETRIES = { maxRetryAttempts: 5, initialRetryInterval: 100, retryIntervalFactor: 2 };

const runStep = (ctx, step, order) =>
  ctx.run(step, () => callStep(step, order, urls), STEP_RETRIES);

const orderSaga = restate.workflow({
  name: "OrderSaga",
  handlers: {
    run: async (ctx, order) => {
      for (const step of STEPS) await runStep(ctx, step, order);
      return "COMPLETED";
    },
  },
});

// One state per step, as the orchestrator's machine has; the happy path only
// (the benchmark's services answer every call), a failed step ends in `failed`.
const stepActor = (step) => fromPromise(({ input, ctx }) => runStep(ctx, step, input.order));
const STATE_OF = {
  createOrder: "creatingOrder",
  reserveInventory: "reservingInventory",
  capturePayment: "capturingPayment",
  confirmOrder: "confirmingOrder",
};
const states = Object.fromEntries(STEPS.map((step, i) => [STATE_OF[step], {
  invoke: {
    src: step,
    input: ({ context }) => ({ order: context.order }),
    onDone: i + 1 < STEPS.length ? STATE_OF[STEPS[i + 1]] : "completed",
    onError: "failed",
  },
}]));
const machine = setup({
  actors: Object.fromEntries(STEPS.map((step) => [step, stepActor(step)])),
}).createMachine({
  id: "orderSaga",
  context: ({ input }) => ({ order: input.order }),
  initial: STATE_OF[STEPS[0]],
  states: { ...states, completed: { type: "final" }, failed: { type: "final" } },
});
const orderSagaMachine = xstate("OrderSagaMachine", machine);

function version(pkg) {
  const file = path.join(process.env.PEER_DIR, "node_modules", pkg, "package.json");
  return JSON.parse(fs.readFileSync(file, "utf8")).version;
}

const server = http2.createServer(
  restate.createEndpointHandler({ services: [orderSaga, orderSagaMachine] }),
);
server.listen(0, "127.0.0.1", () => {
  console.log(JSON.stringify({
    ready: true,
    port: server.address().port,
    node: process.version,
    sdk: version("@restatedev/restate-sdk"),
    xstate: version("@restatedev/xstate"),
  }));
});
process.on("SIGTERM", () => server.close(() => process.exit(0)));
