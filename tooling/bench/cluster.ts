// The benchmark's fixed parts (one embedded PostgreSQL, the three reference
// services with zero added latency) and, per run, a fresh database with
// orchestrator instances on it; all of them from the local cluster
// (tooling/cluster).
import type { Sql } from "../../src/db/client.ts";
import {
  type DatabaseServer,
  freshDatabase,
  type Instance,
  ProcessGroup,
  type Services,
  type ServiceUrls,
  startDatabaseServer,
  startInstance,
  startServices,
  waitReady,
} from "../cluster/mod.ts";
import { resetService } from "../reference_services/mod.ts";

export interface BenchEnv {
  group: ProcessGroup;
  db: DatabaseServer;
  services: Services;
  /** PostgreSQL data, logs and the peers' own files live under it. */
  dataDir: string;
  logDir: string;
  /** Orchestrator LOG_LEVEL (warn: per-step info lines would be measured too). */
  logLevel: string;
}

export const DB_NAME = "bench";

export async function startBenchEnv(
  group: ProcessGroup,
  opts: { dataDir: string; logLevel: string },
): Promise<BenchEnv> {
  const logDir = `${opts.dataDir}/logs`;
  await Deno.mkdir(logDir, { recursive: true });
  const db = await startDatabaseServer(group, {
    dataDir: `${opts.dataDir}/pg`,
    logFile: `${logDir}/postgres.log`,
  });
  const services = await startServices(group, { logDir });
  return { group, db, services, dataDir: opts.dataDir, logDir, logLevel: opts.logLevel };
}

export interface Run {
  sql: Sql;
  url: string;
  instances: Instance[];
}

let runNumber = 0;

export interface RunOptions {
  /** The services the instances call (default: the benchmark's). */
  services?: ServiceUrls;
  /** Makes database DB_NAME (default: fresh, empty and migrated). */
  database?: () => Promise<{ url: string; sql: Sql }>;
}

/**
 * A fresh database and services, `count` orchestrator instances on it with
 * `env`, ready (LISTEN up unless LISTEN=false); runs `fn`, then stops them.
 */
export async function withInstances<T>(
  env: BenchEnv,
  count: number,
  vars: Record<string, string>,
  fn: (run: Run) => Promise<T>,
  opts: RunOptions = {},
): Promise<T> {
  const services = opts.services ?? env.services.urls;
  await Promise.all(Object.values(services).map((url) => resetService(url)));
  const { url, sql } = await (opts.database?.() ?? freshDatabase(env.db, DB_NAME, { max: 4 }));
  const run = ++runNumber;
  const instances: Instance[] = [];
  try {
    for (let i = 1; i <= count; i++) {
      instances.push(
        await startInstance(env.group, {
          id: `bench-${i}`,
          databaseUrl: url,
          services,
          env: { LOG_LEVEL: env.logLevel, ...vars },
          logFile: `${env.logDir}/run-${run}-instance-${i}.log`,
        }),
      );
    }
    const listen = vars.LISTEN !== "false";
    await Promise.all(instances.map((i) => waitReady(i, { listen })));
    return await fn({ sql, url, instances });
  } finally {
    await Promise.all(instances.map((i) => env.group.stop(i.child, "SIGTERM")));
    await sql.end({ timeout: 2 });
  }
}
