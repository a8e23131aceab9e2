// The embedded PostgreSQL as a child process (tooling/demo/db_server.ts), and
// fresh, migrated databases on it.
import postgres from "postgres";
import { createSql, type Sql } from "../../src/db/client.ts";
import { migrate } from "../../src/db/migrate.ts";
import { type Child, type ProcessGroup } from "./processes.ts";
import { startTaskFlags } from "./orchestrators.ts";

export interface DatabaseServer {
  adminUrl: string;
  port: number;
  postmasterPid: number;
  child: Child;
  /** URL of database `name` on this server. */
  url(name: string): string;
}

export const DATABASE_TIER = 1;

export async function startDatabaseServer(
  group: ProcessGroup,
  /** `port`: listen there (a restart on the same data dir keeps its URL); default: a free one. */
  opts: { dataDir: string; logFile?: string; port?: number },
): Promise<DatabaseServer> {
  const port = opts.port === undefined ? [] : ["--port", String(opts.port)];
  const child = group.spawn({
    name: "postgres",
    // The same permissions as `deno task start`, which runs the same embedded server.
    args: [
      "run",
      ...startTaskFlags(),
      "tooling/demo/db_server.ts",
      "--data-dir",
      opts.dataDir,
      ...port,
    ],
    logFile: opts.logFile,
    tier: DATABASE_TIER,
    // It outlives everything else we start, and stops it all if we die.
    watchdog: true,
  });
  const ready = await child.waitForLine((line) => {
    try {
      const parsed = JSON.parse(line);
      return parsed?.ready === true
        ? parsed as { adminUrl: string; port: number; postmasterPid: number }
        : undefined;
    } catch {
      return undefined;
    }
  }, 120_000);
  return {
    ...ready,
    child,
    url(name: string) {
      const u = new URL(ready.adminUrl);
      u.pathname = `/${name}`;
      return u.toString();
    },
  };
}

/** Drops database `name` if it exists, creates it empty and applies the migrations. */
export async function freshDatabase(
  server: DatabaseServer,
  name: string,
  opts: { max?: number } = {},
): Promise<{ url: string; sql: Sql }> {
  if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`bad database name "${name}"`);
  const admin = postgres(server.adminUrl, { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.unsafe(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end({ timeout: 2 });
  }
  const url = server.url(name);
  const sql = createSql(url, { max: opts.max ?? 4 });
  await migrate(sql);
  return { url, sql };
}

/** Drops a database (its connections are closed first, by force). */
export async function dropDatabase(server: DatabaseServer, name: string): Promise<void> {
  const admin = postgres(server.adminUrl, { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  } finally {
    await admin.end({ timeout: 2 });
  }
}
