// Restate as a peer: a fresh restate-server per measurement (its own log on
// local disk), the service endpoint restate.cjs registered as its deployment,
// orders sent through the server's ingress by this process (as an edge API
// would send them), timed as every engine is (saga_run.ts).
//
// Two forms of the saga (restate.cjs):
//   workflow  OrderSaga, keyed by order id: POST /OrderSaga/<id>/run/send;
//             done when its invocation has completed.
//   machine   OrderSagaMachine (@restatedev/xstate): POST
//             /OrderSagaMachine/<id>/create/send with the order as input;
//             done when the machine's persisted snapshot says so.
// Completion times are the server's own (sys_invocation_status.completed_at).
import { resetService } from "../../reference_services/mod.ts";
import type { OrderPayload } from "../../cluster/orders.ts";
import type { Child } from "../../cluster/mod.ts";
import type { BenchEnv } from "../cluster.ts";
import { happyOrders } from "../orders.ts";
import { startNodeProgram } from "./node_program.ts";
import {
  registerDeployment,
  restateQuery,
  type RestateServer,
  startRestateServer,
} from "./restate_server.ts";
import { type SagaPeerRun, timeSagaEngine } from "./saga_run.ts";

export type RestateVariant = "workflow" | "machine";

export const RESTATE_SERVICE: Record<RestateVariant, string> = {
  workflow: "OrderSaga",
  machine: "OrderSagaMachine",
};

/** Ingress requests in flight while handing a batch of orders over (keep-alive connections). */
export const RESTATE_SEND_CONCURRENCY = 32;

export interface RestateVersions {
  server: string;
  sdk: string;
  xstate: string;
  node: string;
}

export interface RestateRun extends SagaPeerRun {
  versions: RestateVersions;
}

export interface RestateSetup {
  server: RestateServer;
  endpoint: Child;
  versions: RestateVersions;
}

/** A fresh server and endpoint, registered; runs `fn`, then stops both. */
export async function withRestate<T>(
  env: BenchEnv,
  opts: { node: string; peerDir: string },
  fn: (setup: RestateSetup) => Promise<T>,
): Promise<T> {
  await Promise.all(Object.values(env.services.urls).map((url) => resetService(url)));
  const server = await startRestateServer(env, { peerDir: opts.peerDir, name: "restate-server" });
  let endpoint: Child | undefined;
  try {
    const started = await startNodeProgram(env, {
      name: "restate-endpoint",
      node: opts.node,
      peerDir: opts.peerDir,
      script: "restate.cjs",
      // The SDK logs every invocation at info: as costly as our per-step lines at info.
      vars: { RESTATE_LOGGING: "WARN" },
    });
    endpoint = started.child;
    await registerDeployment(
      server,
      `http://127.0.0.1:${started.ready.port}`,
      Object.values(RESTATE_SERVICE),
    );
    return await fn({
      server,
      endpoint,
      versions: {
        server: server.version,
        sdk: String(started.ready.sdk),
        xstate: String(started.ready.xstate),
        node: String(started.ready.node),
      },
    });
  } finally {
    if (endpoint) await env.group.stop(endpoint);
    await env.group.stop(server.child);
  }
}

/** Sends one order through the ingress; resolves once Restate has accepted it (in its log). */
export async function sendOrder(
  server: RestateServer,
  variant: RestateVariant,
  order: OrderPayload,
): Promise<void> {
  const key = encodeURIComponent(order.order_id);
  const [path, body] = variant === "workflow"
    ? [`/${RESTATE_SERVICE.workflow}/${key}/run/send`, order]
    : [`/${RESTATE_SERVICE.machine}/${key}/create/send`, { input: { order } }];
  const response = await fetch(`${server.ingressUrl}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`ingress ${path}: HTTP ${response.status} ${text}`);
}

/** Runs `work` over `items` with at most `concurrency` at a time. */
async function inParallel<T>(concurrency: number, items: T[], work: (item: T) => Promise<void>) {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, async () => {
    while (next < items.length) await work(items[next++]!);
  }));
}

/** Finished sagas of `variant` so far, and how many of them failed. */
async function progress(server: RestateServer, variant: RestateVariant) {
  const rows = variant === "workflow"
    ? await restateQuery<{ outcome: string; n: number }>(
      server,
      `SELECT completion_result AS outcome, count(*) AS n FROM sys_invocation_status
       WHERE target_service_name = '${RESTATE_SERVICE.workflow}' AND status = 'completed'
       GROUP BY completion_result`,
    )
    : await restateQuery<{ outcome: string; n: number }>(
      server,
      `SELECT json_get_str(value_utf8, 'value') AS outcome, count(*) AS n FROM state
       WHERE service_name = '${RESTATE_SERVICE.machine}' AND key = 'snapshot'
         AND json_get_str(value_utf8, 'status') = 'done'
       GROUP BY json_get_str(value_utf8, 'value')`,
    );
  const good = variant === "workflow" ? "success" : "completed";
  const finished = rows.reduce((sum, r) => sum + Number(r.n), 0);
  const failed = rows.filter((r) => r.outcome !== good).reduce((sum, r) => sum + Number(r.n), 0);
  return { finished, failed };
}

export async function measureRestate(
  env: BenchEnv,
  opts: {
    node: string;
    peerDir: string;
    variant: RestateVariant;
    orders: number;
    warmup: number;
    timeoutMs: number;
    onProgress?(finished: number): void;
  },
): Promise<RestateRun> {
  return await withRestate(env, opts, async ({ server, endpoint, versions }) => {
    const orders = happyOrders(opts.warmup + opts.orders, 47 + opts.orders);
    const run = await timeSagaEngine({
      hand: (from, count) =>
        inParallel(
          RESTATE_SEND_CONCURRENCY,
          orders.slice(from, from + count),
          (order) => sendOrder(server, opts.variant, order),
        ),
      progress: () => progress(server, opts.variant),
      async lastFinishedMs() {
        const [row] = await restateQuery<{ last: string }>(
          server,
          `SELECT max(completed_at) AS last FROM sys_invocation_status
           WHERE target_service_name = '${RESTATE_SERVICE[opts.variant]}'`,
        );
        return Date.parse(row!.last);
      },
      cpuGroups: {
        processes: {
          // The server is the engine and its store: the log and state are inside it.
          engine: [server.child.pid],
          endpoint: [endpoint.pid],
          services: Object.values(env.services.children).map((c) => c.pid),
        },
        trees: { postgres: env.db.postmasterPid },
      },
    }, {
      warmup: opts.warmup,
      orders: opts.orders,
      timeoutMs: opts.timeoutMs,
      // A query over the server's introspection tables costs the server more
      // than ours costs PostgreSQL; the window's end is its own timestamp anyway.
      pollMs: 200,
      onProgress: opts.onProgress,
    });
    return { ...run, versions };
  });
}
