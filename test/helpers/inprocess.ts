// An orchestrator instance inside the test process, on a test database and
// the in-process sandbox services. Real PostgreSQL, real HTTP on loopback.
import { loadConfig } from "../../src/config.ts";
import { createOrchestrator } from "../../src/orchestrator.ts";
import { createLogger, type Logger } from "../../src/log.ts";
import { createSql } from "../../src/db/client.ts";
import type { OrchestratorDeps } from "../../src/orchestrator.ts";
import { type FreshDatabase } from "../../tooling/cluster/mod.ts";

export function startInProcess(
  db: FreshDatabase,
  urls: { orders: string; inventory: string; payments: string },
  env: Record<string, string> = {},
  hooks?: OrchestratorDeps["hooks"],
  execute?: OrchestratorDeps["execute"],
  logger: Logger = createLogger(Deno.env.get("TEST_LOG_LEVEL") ?? "silent"),
) {
  const config = loadConfig({
    DATABASE_URL: db.url,
    ORDERS_SERVICE_URL: urls.orders,
    INVENTORY_SERVICE_URL: urls.inventory,
    PAYMENTS_SERVICE_URL: urls.payments,
    POLL_INTERVAL_MS: "1000",
    RETRY_BASE_MS: "20",
    RETRY_MAX_MS: "100",
    LEASE_MS: "3000",
    HTTP_TIMEOUT_MS: "2000",
    INSTANCE_ID: `test-${crypto.randomUUID().slice(0, 6)}`,
    ...env,
  }, { hostname: "test", pid: Deno.pid });
  // Its own pool, as main.ts makes one: sized and limited by this instance's
  // configuration. With prepared statements off (a pooler, which refuses them
  // as start-up parameters) the limits are the server's own, as main.ts ends up.
  const sql = createSql(db.url, {
    max: config.dbPoolSize,
    limits: config.dbLimits,
    prepare: config.dbPreparedStatements,
    limitsSource: config.dbPreparedStatements ? "startup" : "server",
  });
  const orchestrator = createOrchestrator({
    config,
    sql,
    databaseUrl: db.url,
    logger,
    hooks,
    execute,
  });
  orchestrator.start();
  const state = () => orchestrator.supervisor.actor.getSnapshot();
  return {
    config,
    orchestrator,
    listening: () => state().matches({ running: { connection: "listening" } }),
    stop: async () => {
      await orchestrator.stop();
      await sql.end({ timeout: 2 });
    },
  };
}
