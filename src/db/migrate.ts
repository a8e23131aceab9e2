// Applies the numbered SQL files in ./migrations once each, in order, and
// records them in `orchestrator_migrations`. The orchestrator usually lives in
// the producer's database, beside other tools' tables and under the
// producer's traffic, so:
//
// * The bookkeeping table has a name of our own. `schema_migrations` is
//   golang-migrate's, Rails' and others' (earlier versions used it too). An
//   installation of ours recorded there — columns exactly (name text,
//   applied_at timestamptz), our file names, our order_ledger beside it — is
//   adopted on the first run: its rows are copied into orchestrator_migrations.
//   `schema_migrations` itself is never written, and one of any other shape is
//   never read.
// * Instances starting together queue on one session-level advisory lock,
//   held on one reserved connection for the whole run (statements that cannot
//   run in a transaction included); the next one finds nothing left to do.
//   Waiting for it holds up nobody else, so it is waited for without end (by
//   polling: see takeMigrationLock); the holder's session ends if it goes
//   idle for a minute (a frozen process), which releases the lock.
// * Each file runs in its own transaction, recorded in it. DDL on a table the
//   producer writes (ALTER TABLE outbox) needs a brief ACCESS EXCLUSIVE lock,
//   and while we queue for it every insert queues behind us: so locks are
//   waited for at most `lockTimeoutMs`, and a transaction that timed out is
//   rolled back and tried again after a pause, `lockAttempts` times in all,
//   rather than waiting behind a producer's long transaction.
// * A file whose first line is `-- migrate: no-transaction` runs outside any
//   transaction, one statement at a time (a statement ends with `;` at the end
//   of a line), and is recorded after its last one: so every statement in it
//   must be safe to run again (IF NOT EXISTS). It is for
//   `CREATE INDEX CONCURRENTLY IF NOT EXISTS` on tables a producer may own: the
//   build waits for transactions already writing the table but blocks none of
//   their inserts, so it runs without lock timeout. A build that failed leaves
//   an INVALID index that IF NOT EXISTS would skip forever: such an index is
//   dropped (DROP INDEX CONCURRENTLY) and built again. The advisory lock makes
//   sure it is not another instance's build in progress.
// * statement_timeout is off for the migration session: an index build on a
//   big table takes as long as it takes.
// The connection goes back to the pool with the session's own settings.
import postgres from "postgres";
import { MigrationError } from "../errors.ts";
import type { Logger } from "../log.ts";
import type { Sql } from "./client.ts";
import {
  concurrentIndexName,
  isConcurrent,
  listMigrations,
  type Migration,
  statementsOf,
} from "./migration_files.ts";

export { listMigrations };

const LOCK_KEY = 727_001; // any constant, shared by every instance
const LOCK_POLL_MS = 250;
const IDLE_SESSION_TIMEOUT_MS = 60_000;
const LOCK_NOT_AVAILABLE = "55P03";

export interface MigrateOptions {
  logger?: Logger;
  /** How long one statement may queue for a table lock: what a producer's insert may wait behind it. */
  lockTimeoutMs?: number;
  /** Tries of a migration whose lock was not granted in time, before start-up gives up. */
  lockAttempts?: number;
  /** Pause after the n-th timed-out try: n times this, at most 5 times this. */
  lockRetryPauseMs?: number;
}

const DEFAULTS = { lockTimeoutMs: 500, lockAttempts: 10, lockRetryPauseMs: 1_000 };

/** The two levels migrations log at; any pino logger fits. */
type MigrationLog = Pick<Logger, "info" | "warn">;
type Policy = typeof DEFAULTS & { logger: MigrationLog };

// Not log.ts's silentLogger: importing pino reads the host name, a permission
// the tools that migrate (demo, bench, chaos) do not ask for.
const quiet: MigrationLog = { info: () => {}, warn: () => {} } as unknown as MigrationLog;
type Connection = postgres.ReservedSql;

/** Returns the names of the migrations this call applied. Fails with a MigrationError. */
export async function migrate(sql: Sql, opts: MigrateOptions = {}): Promise<string[]> {
  const policy: Policy = {
    lockTimeoutMs: opts.lockTimeoutMs ?? DEFAULTS.lockTimeoutMs,
    lockAttempts: opts.lockAttempts ?? DEFAULTS.lockAttempts,
    lockRetryPauseMs: opts.lockRetryPauseMs ?? DEFAULTS.lockRetryPauseMs,
    logger: opts.logger ?? quiet,
  };
  try {
    const migrations = await listMigrations();
    const conn = await sql.reserve();
    try {
      await prepareSession(conn, policy);
      await takeMigrationLock(conn, policy);
      try {
        const done = await prepareTable(conn, migrations, policy);
        const applied: string[] = [];
        for (const m of migrations) {
          if (done.has(m.name)) continue;
          if (m.transactional) await applyInTransaction(conn, m, policy);
          else await applyStatementByStatement(conn, m, policy);
          applied.push(m.name);
        }
        return applied;
      } finally {
        await conn`SELECT pg_advisory_unlock(${LOCK_KEY})`.catch(() => {});
      }
    } finally {
      await conn.unsafe("RESET ALL").catch(() => {});
      conn.release();
    }
  } catch (err) {
    if (err instanceof MigrationError) throw err;
    throw new MigrationError(`Migrations failed: ${reason(err)}`, undefined, { cause: err });
  }
}

async function prepareSession(conn: Connection, policy: Policy): Promise<void> {
  await conn.unsafe("SET statement_timeout = 0");
  await setLockTimeout(conn, policy.lockTimeoutMs);
  // idle_session_timeout exists from PostgreSQL 14 on.
  await conn`SELECT set_config('idle_session_timeout', ${String(IDLE_SESSION_TIMEOUT_MS)}, false)
    WHERE current_setting('server_version_num')::int >= 140000`;
}

async function setLockTimeout(conn: Connection, ms: number): Promise<void> {
  await conn`SELECT set_config('lock_timeout', ${String(ms)}, false)`;
}

/**
 * Polled rather than waited for: a session blocked in pg_advisory_lock holds
 * a snapshot, and the holder's CREATE INDEX CONCURRENTLY waits for every
 * older snapshot to go away — a deadlock.
 */
async function takeMigrationLock(conn: Connection, policy: Policy): Promise<void> {
  for (let n = 0;; n++) {
    const [row] = await conn<{ taken: boolean }[]>`
      SELECT pg_try_advisory_lock(${LOCK_KEY}) AS taken`;
    if (row?.taken) return;
    if (n === 0) policy.logger.info("Another instance is applying migrations: waiting for it");
    await sleep(LOCK_POLL_MS);
  }
}

/** Creates orchestrator_migrations (adopting an old installation's records); returns what is applied. */
async function prepareTable(
  conn: Connection,
  migrations: Migration[],
  policy: Policy,
): Promise<Set<string>> {
  const done = await retryingLockTimeouts(undefined, policy, () =>
    inTransaction(conn, async () => {
      await conn.unsafe(`CREATE TABLE IF NOT EXISTS orchestrator_migrations (
        name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`);
      const recorded = await conn<{ name: string }[]>`SELECT name FROM orchestrator_migrations`;
      if (recorded.length === 0) await adoptLegacyRecords(conn, migrations, policy);
      return await conn<{ name: string }[]>`SELECT name FROM orchestrator_migrations`;
    }));
  return new Set(done.map((r) => r.name));
}

/** Copies our own rows out of a `schema_migrations` that is ours; leaves any other alone. */
async function adoptLegacyRecords(
  conn: Connection,
  migrations: Migration[],
  policy: Policy,
): Promise<void> {
  // Recognised from the catalog alone: another tool's table is never queried.
  const [legacy] = await conn<{ ours: boolean }[]>`
    SELECT (SELECT array_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
                             ORDER BY a.attname)
            FROM pg_attribute a
            WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped)
           = ARRAY['applied_at timestamp with time zone', 'name text']
       AND to_regclass('order_ledger') IS NOT NULL AS ours
    FROM pg_class c
    WHERE c.oid = to_regclass('schema_migrations') AND c.relkind IN ('r', 'p')`;
  if (!legacy?.ours) return;
  const adopted = await conn<{ name: string }[]>`
    INSERT INTO orchestrator_migrations (name, applied_at)
    SELECT name, coalesce(applied_at, now()) FROM schema_migrations
    WHERE name = ANY(${migrations.map((m) => m.name)})
    ON CONFLICT (name) DO NOTHING
    RETURNING name`;
  if (adopted.length > 0) {
    policy.logger.info(
      { adopted: adopted.map((r) => r.name).sort() },
      "Adopted the migrations recorded in schema_migrations by an earlier version (left in place)",
    );
  }
}

async function applyInTransaction(conn: Connection, m: Migration, policy: Policy): Promise<void> {
  try {
    await retryingLockTimeouts(m.name, policy, () =>
      inTransaction(conn, async () => {
        await conn.unsafe(m.sql);
        await conn`INSERT INTO orchestrator_migrations (name) VALUES (${m.name})`;
      }));
  } catch (err) {
    throw new MigrationError(
      `Migration ${m.name} failed${lineSuffix(m.sql, 1, err)}: ${reason(err, policy)}`,
      m.name,
      { cause: err },
    );
  }
}

async function applyStatementByStatement(
  conn: Connection,
  m: Migration,
  policy: Policy,
): Promise<void> {
  for (const statement of statementsOf(m.sql)) {
    try {
      if (isConcurrent(statement.text)) {
        await setLockTimeout(conn, 0);
        try {
          const index = concurrentIndexName(statement.text);
          if (index) await dropIfInvalid(conn, index, m.name, policy);
          await conn.unsafe(statement.text);
        } finally {
          await setLockTimeout(conn, policy.lockTimeoutMs);
        }
      } else {
        await retryingLockTimeouts(m.name, policy, () => conn.unsafe(statement.text));
      }
    } catch (err) {
      throw new MigrationError(
        `Migration ${m.name} failed${lineSuffix(statement.text, statement.line, err)}: ${
          reason(err, policy)
        }`,
        m.name,
        { cause: err },
      );
    }
  }
  try {
    await conn`INSERT INTO orchestrator_migrations (name) VALUES (${m.name})`;
  } catch (err) {
    throw new MigrationError(`Migration ${m.name} failed: ${reason(err)}`, m.name, { cause: err });
  }
}

/** A failed concurrent build leaves its index INVALID: drop it so that it is built again. */
async function dropIfInvalid(
  conn: Connection,
  index: string,
  migration: string,
  policy: Policy,
): Promise<void> {
  const [row] = await conn<{ invalid: boolean }[]>`
    SELECT NOT indisvalid AS invalid FROM pg_index WHERE indexrelid = to_regclass(${index})`;
  if (!row?.invalid) return;
  policy.logger.warn(
    { migration, index },
    "An earlier build of this index failed and left it INVALID: dropping it to build it again",
  );
  await conn.unsafe(`DROP INDEX CONCURRENTLY IF EXISTS ${index}`);
}

async function inTransaction<T>(conn: Connection, work: () => Promise<T>): Promise<T> {
  await conn.unsafe("BEGIN");
  try {
    const result = await work();
    await conn.unsafe("COMMIT");
    return result;
  } catch (err) {
    await conn.unsafe("ROLLBACK").catch(() => {});
    throw err;
  }
}

/** Runs `attempt` again after a growing pause each time a lock was not granted within lock_timeout. */
async function retryingLockTimeouts<T>(
  migration: string | undefined,
  policy: Policy,
  attempt: () => Promise<T>,
): Promise<T> {
  for (let n = 1;; n++) {
    try {
      return await attempt();
    } catch (err) {
      if (!isLockTimeout(err) || n >= policy.lockAttempts) throw err;
      const pauseMs = Math.min(n, 5) * policy.lockRetryPauseMs;
      policy.logger.warn(
        { migration, attempt: n, of: policy.lockAttempts, pauseMs },
        "A table lock was not granted in time (a long transaction holds it): retrying after a pause",
      );
      await sleep(pauseMs);
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function isLockTimeout(err: unknown): boolean {
  return err instanceof postgres.PostgresError && err.code === LOCK_NOT_AVAILABLE;
}

function reason(err: unknown, policy?: Policy): string {
  if (!(err instanceof postgres.PostgresError)) return String((err as Error)?.message ?? err);
  let text = err.message + (err.detail ? ` (${err.detail})` : "");
  if (policy && isLockTimeout(err)) {
    text += `: a table lock was not granted within ${policy.lockTimeoutMs} ms, ` +
      `${policy.lockAttempts} times; a long transaction holds it (see pg_stat_activity)`;
  }
  return text;
}

/** " at line N" of the file, when PostgreSQL says where in `text` (starting at `firstLine`) it failed. */
function lineSuffix(text: string, firstLine: number, err: unknown): string {
  const position = err instanceof postgres.PostgresError ? Number(err.position) : 0;
  if (!position) return "";
  const line = firstLine + (text.slice(0, position - 1).match(/\n/g)?.length ?? 0);
  return ` at line ${line}`;
}
