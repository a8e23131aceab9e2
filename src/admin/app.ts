// The admin HTTP API, composed from one small module per concern:
//   /healthz /readyz   health.ts    open
//   /sagas…            sagas.ts     an operator's bearer token when any is configured (auth.ts)
//   /outbox…           outbox.ts    〃
//   /machines…         machines.ts  〃
//   /metrics           metrics.ts   〃
//   /                  the admin page (page/, open: it holds no data)
// One onError turns every failure into JSON `{"error": …}`: HTTPException
// keeps its status; anything else is logged and answered 500 "internal
// error", never with a stack trace.
import { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import { methodNotAllowed } from "hono/method-not-allowed";
import type { Sql } from "../db/client.ts";
import type { Logger } from "../log.ts";
import { silentLogger } from "../log.ts";
import type { Metrics } from "../metrics.ts";
import { type AdminEnv, requireToken } from "./auth.ts";
import { type Operator, SINGLE_TOKEN_OPERATOR } from "./operators.ts";
import { outboxRoutes } from "./outbox.ts";
import { mountAdminPage } from "./page/mod.ts";
import { HEALTH_PATHS, type HealthDeps, healthRoutes } from "./health.ts";
import { machineRoutes } from "./machines.ts";
import { sagaRoutes } from "./sagas.ts";

export interface AdminDeps {
  sql: Sql;
  listening: () => boolean;
  /** Why LISTEN is not working, shown by /readyz. */
  listenReason?: () => string | null;
  metrics?: Metrics;
  logger?: Logger;
  /** ADMIN_TOKEN: the operator "admin" (shorthand for one entry of `operators`). */
  token?: string;
  /** Operators and their tokens; with none (and no `token`) the API is open (loopback only, config.ts). */
  operators?: readonly Operator[];
  /** Names the instance in operator actions' records: `admin:<operator>@<instanceId>`. */
  instanceId?: string;
  /** The watchdog's verdict for /healthz and /readyz. */
  liveness?: HealthDeps["liveness"];
}

export function createAdminApp(deps: AdminDeps): Hono<AdminEnv> {
  const logger = deps.logger ?? silentLogger;
  const app = new Hono<AdminEnv>();
  const operators = [
    ...(deps.token ? [{ name: SINGLE_TOKEN_OPERATOR, token: deps.token }] : []),
    ...(deps.operators ?? []),
  ];

  app.onError((err, c) => {
    if (err instanceof HTTPException) {
      // A 5xx HTTPException is still ours to log; its message is safe to show.
      if (err.status >= 500) logger.error({ err: err.message, path: c.req.path }, "Admin error");
      return c.json({ error: err.message || "error" }, err.status);
    }
    logger.error(
      { err: String(err), stack: (err as Error)?.stack, method: c.req.method, path: c.req.path },
      "Admin API request failed",
    );
    return c.json({ error: "internal error" }, 500);
  });
  app.notFound((c) => c.json({ error: "not found" }, 404));

  // The page and its files hold no data: served before the token check, so a
  // browser can load them and then ask the operator for the token.
  mountAdminPage(app);
  app.use(requireToken(operators, HEALTH_PATHS));
  app.use(methodNotAllowed({
    app,
    onMethodNotAllowed: (c, methods) =>
      c.json({ error: "method not allowed" }, 405, { Allow: methods.join(", ") }),
  }));

  app.route("/", healthRoutes(deps));
  const actions = { sql: deps.sql, instanceId: deps.instanceId ?? "api", logger };
  app.route("/sagas", sagaRoutes(actions));
  app.route("/outbox", outboxRoutes(actions));
  app.route("/machines", machineRoutes());
  app.get("/metrics", async (c) => {
    if (!deps.metrics) throw new HTTPException(404, { message: "metrics are not enabled" });
    return c.body(await deps.metrics.render(), 200, { "content-type": deps.metrics.contentType });
  });
  return app;
}
