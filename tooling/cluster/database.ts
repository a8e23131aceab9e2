// The local cluster's PostgreSQL: the embedded server of src/db/embedded.ts
// run as a child process (tooling/cluster/db_server.ts), one that can be
// stopped and started again on the same port, or the server the tests run
// against (DATABASE_URL, set by `deno task test`); and fresh, migrated
// databases on any of them.
import postgres from "postgres";
import { createSql, type Sql } from "../../src/db/client.ts";
import { migrate } from "../../src/db/migrate.ts";
import { type Child, type ProcessGroup } from "./processes.ts";
import { taskFlags } from "./orchestrators.ts";
import { stablePort } from "./ports.ts";

/** A PostgreSQL server we may create databases on. */
export interface PostgresServer {
  /** URL of the maintenance database, as a user allowed to create databases. */
  adminUrl: string;
  /** URL of database `name` on this server. */
  url(name: string): string;
}

/** An embedded PostgreSQL we started, as a child process. */
export interface DatabaseServer extends PostgresServer {
  port: number;
  postmasterPid: number;
  child: Child;
}

export const DATABASE_TIER = 1;

function urlOn(adminUrl: string, name: string): string {
  const u = new URL(adminUrl);
  u.pathname = `/${name}`;
  return u.toString();
}

/** The server at `adminUrl`. */
export function serverAt(adminUrl: string): PostgresServer {
  return { adminUrl, url: (name) => urlOn(adminUrl, name) };
}

/** The server the tests run against: DATABASE_URL, which `deno task test` sets. */
export function serverFromEnv(): PostgresServer {
  const url = Deno.env.get("DATABASE_URL");
  if (!url) throw new Error("DATABASE_URL is not set: run the tests with `deno task test`");
  return serverAt(url);
}

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
      ...taskFlags("start"),
      "tooling/cluster/db_server.ts",
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
  return { ...ready, child, url: (name) => urlOn(ready.adminUrl, name) };
}

/**
 * An embedded PostgreSQL that can be stopped and started again on the same
 * data dir and port (a chaos run's database restart). The port is below the
 * kernel's ephemeral range, so no client's outgoing connection can take it
 * while the server is down.
 */
export class RestartableDatabase {
  restarts = 0;
  #server: DatabaseServer;
  #up: Promise<void> = Promise.resolve();

  private constructor(
    private readonly group: ProcessGroup,
    private readonly dataDir: string,
    private readonly logDir: string,
    server: DatabaseServer,
  ) {
    this.#server = server;
  }

  static async start(
    group: ProcessGroup,
    opts: { dataDir: string; logDir: string },
  ): Promise<RestartableDatabase> {
    const server = await startDatabaseServer(group, {
      dataDir: opts.dataDir,
      port: stablePort(),
      logFile: `${opts.logDir}/postgres.log`,
    });
    return new RestartableDatabase(group, opts.dataDir, opts.logDir, server);
  }

  get server(): DatabaseServer {
    return this.#server;
  }

  /** Resolves at once, or when a restart in progress has finished. */
  whenUp(): Promise<void> {
    return this.#up;
  }

  /** Stops PostgreSQL (fast shutdown), waits `downMs`, starts it again on the same port. */
  async restart(downMs: number): Promise<void> {
    let done!: () => void;
    this.#up = new Promise((resolve) => done = resolve);
    try {
      await this.group.stop(this.#server.child);
      await new Promise((r) => setTimeout(r, downMs));
      const port = this.#server.port;
      for (let attempt = 1;; attempt++) {
        try {
          this.#server = await startDatabaseServer(this.group, {
            dataDir: this.dataDir,
            port,
            logFile: `${this.logDir}/postgres.${this.restarts + 1}.${attempt}.log`,
          });
          break;
        } catch (err) {
          if (attempt >= 3) throw err;
          await new Promise((r) => setTimeout(r, 1000));
        }
      }
      if (this.#server.port !== port) {
        throw new Error(`PostgreSQL came back on port ${this.#server.port}, not ${port}`);
      }
      this.restarts++;
    } finally {
      done();
    }
  }
}

export interface FreshDatabase {
  name: string;
  url: string;
  /** A pool on it (`max` connections, default 5), ended by drop(). */
  sql: Sql;
  /** Ends the pool and drops the database (its other connections are closed by force). */
  drop(): Promise<void>;
}

export interface FreshOptions {
  /** Connections in `sql` (default 5). */
  max?: number;
  /** Apply the migrations (default true). */
  migrate?: boolean;
}

/**
 * A new database: on `server`, named `name` (dropped first if it exists: the
 * demo's, the benchmark's and a chaos run's), or, with no server, a throwaway
 * with a random name on the tests' server (serverFromEnv). Migrated unless
 * `migrate: false`.
 */
export function freshDatabase(opts?: FreshOptions): Promise<FreshDatabase>;
export function freshDatabase(
  server: PostgresServer,
  name: string,
  opts?: FreshOptions,
): Promise<FreshDatabase>;
export async function freshDatabase(
  ...args: [FreshOptions?] | [PostgresServer, string, FreshOptions?]
): Promise<FreshDatabase> {
  const [server, name, opts] = args.length >= 2
    ? [args[0] as PostgresServer, args[1] as string, args[2] ?? {}]
    : [
      serverFromEnv(),
      `t_${crypto.randomUUID().replaceAll("-", "").slice(0, 16)}`,
      (args[0] ?? {}) as FreshOptions,
    ];
  if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`bad database name "${name}"`);
  await adminStatements(server, [
    `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`,
    `CREATE DATABASE ${name}`,
  ]);
  const url = server.url(name);
  const sql = createSql(url, { max: opts.max ?? 5 });
  if (opts.migrate !== false) await migrate(sql);
  return {
    name,
    url,
    sql,
    async drop() {
      await sql.end({ timeout: 2 });
      await adminStatements(server, [`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`]);
    },
  };
}

async function adminStatements(server: PostgresServer, statements: string[]): Promise<void> {
  const admin = postgres(server.adminUrl, { max: 1, onnotice: () => {} });
  try {
    for (const statement of statements) await admin.unsafe(statement);
  } finally {
    await admin.end({ timeout: 2 });
  }
}
