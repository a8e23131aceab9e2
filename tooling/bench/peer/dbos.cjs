// The benchmark's DBOS Transact peer: the order saga as a DBOS workflow of
// four DBOS.runStep calls making the orchestrator's HTTP requests
// (saga_steps.cjs), workflow id = order id. Runs under the benchmark's Node,
// with @dbos-inc/dbos-sdk installed into .data/bench by the benchmark, never
// a dependency of the orchestrator. Its system database is a database of its
// own on the benchmark's PostgreSQL server.
//
// Life cycle: launch DBOS, print {"ready":true}, then read commands on stdin,
// one per line: "start FROM COUNT" starts orders FROM..FROM+COUNT-1 of
// ORDERS_FILE (all at once, as concurrent requests of an API would) and
// prints {"from":FROM,"handed":COUNT,"ms":…} once every start has returned. The
// benchmark watches the system database for finished workflows itself.
//
// env: PEER_DIR (where the SDK is installed), SYSTEM_DATABASE_URL, ORDERS_FILE
//      (JSON array of OrderPlaced payloads), QUEUE ("" to start workflows
//      directly, else a queue name), QUEUE_CONCURRENCY, QUEUE_POLL_MS,
//      ORDERS_SERVICE_URL, INVENTORY_SERVICE_URL, PAYMENTS_SERVICE_URL
"use strict";
const { createRequire } = require("node:module");
const fs = require("node:fs");
const path = require("node:path");
const readline = require("node:readline");
const { STEPS, callStep, serviceUrlsFromEnv } = require("./saga_steps.cjs");

const peer = createRequire(path.join(process.env.PEER_DIR, "package.json"));
const { DBOS } = peer("@dbos-inc/dbos-sdk");

const urls = serviceUrlsFromEnv(process.env);
const orders = JSON.parse(fs.readFileSync(process.env.ORDERS_FILE, "utf8"));
const queueName = process.env.QUEUE || undefined;

// Transient failures are retried as the orchestrator retries them (a few
// attempts with backoff); the benchmark's services answer every call.
const STEP_RETRIES = { retriesAllowed: true, maxAttempts: 5, intervalSeconds: 0.1, backoffRate: 2 };

async function orderSaga(order) {
  for (const step of STEPS) {
    await DBOS.runStep(() => callStep(step, order, urls), { name: step, ...STEP_RETRIES });
  }
  return "COMPLETED";
}

const saga = DBOS.registerWorkflow(orderSaga, { name: "orderSaga" });

async function start(from, count) {
  const began = performance.now();
  const params = (order) =>
    queueName ? { workflowID: order.order_id, queueName } : { workflowID: order.order_id };
  await Promise.all(
    orders.slice(from, from + count).map((order) => DBOS.startWorkflow(saga, params(order))(order)),
  );
  console.log(JSON.stringify({ from, handed: count, ms: performance.now() - began }));
}

async function main() {
  DBOS.setConfig({
    name: "bench-order-saga",
    systemDatabaseUrl: process.env.SYSTEM_DATABASE_URL,
    logLevel: "warn",
  });
  await DBOS.launch();
  if (queueName) {
    await DBOS.registerQueue(queueName, {
      workerConcurrency: Number(process.env.QUEUE_CONCURRENCY),
      minPollingIntervalMs: Number(process.env.QUEUE_POLL_MS),
    });
  }
  console.log(JSON.stringify({ ready: true, node: process.version, version: sdkVersion() }));
  const lines = readline.createInterface({ input: process.stdin });
  for await (const line of lines) {
    const [command, from, count] = line.trim().split(/\s+/);
    if (command === "start") await start(Number(from), Number(count));
  }
  // stdin closed: the benchmark is done with us.
  await DBOS.shutdown();
}

function sdkVersion() {
  const file = path.join(
    process.env.PEER_DIR,
    "node_modules",
    "@dbos-inc",
    "dbos-sdk",
    "package.json",
  );
  return JSON.parse(fs.readFileSync(file, "utf8")).version;
}

main().catch((err) => {
  console.error(err && err.stack ? err.stack : String(err));
  process.exit(1);
});
