// Migrations in a producer's database:
// beside other tools' tables, several instances at once, adopting
// installations from before orchestrator_migrations, and an outbox index that
// is built without holding up the producer's inserts. Real PostgreSQL only.
import assert from "node:assert/strict";
import pino from "pino";
import postgres from "postgres";
import { createSql, type Sql } from "../src/db/client.ts";
import { listMigrations, migrate } from "../src/db/migrate.ts";
import { concurrentIndexName, isConcurrent, statementsOf } from "../src/db/migration_files.ts";
import { startSandbox } from "../tooling/reference_services/mod.ts";
import { startInProcess } from "./helpers/inprocess.ts";
import { placeOrder, sampleOrder, waitFor, waitForStatus } from "./helpers/orders.ts";
import { freshDatabase } from "../tooling/cluster/mod.ts";

const INDEX_MIGRATION = "003_outbox_pending_index.sql";
const GATE_MIGRATION = "004_gated_wakeup.sql";
const FINISHED_AT_MIGRATION = "006_finished_at.sql";
const RETENTION_INDEX_MIGRATION = "008_retention_indexes.sql";
const COUNTS_MIGRATION = "005_saga_counts.sql";
const DEAD_INDEX_MIGRATION = "007_outbox_dead_index.sql";
const LEASE_INDEX_MIGRATION = "009_lease_lookup_index.sql";
const GATE_SEQUENCE_MIGRATION = "010_wakeup_gate_sequence.sql";

type LogLine = { level: number; msg: string; migration?: string } & Record<string, unknown>;

function capturingLogger() {
  const lines: LogLine[] = [];
  const logger = pino({ level: "info" }, { write: (s: string) => lines.push(JSON.parse(s)) });
  return { logger, lines };
}

/** The outbox a producer made itself from the contract, plus a column of its own. */
async function createProducerOutbox(sql: Sql): Promise<void> {
  await sql.unsafe(`CREATE TABLE outbox (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    order_id uuid NOT NULL,
    event_type text NOT NULL,
    payload jsonb NOT NULL,
    status text,
    attempts int,
    last_error text,
    created_at timestamptz NOT NULL DEFAULT now(),
    processed_at timestamptz,
    tenant text NOT NULL DEFAULT 'x'
  )`);
  for (const tenant of ["acme", "globex", "initech"]) {
    await sql`INSERT INTO outbox (order_id, event_type, payload, status, attempts, tenant)
      VALUES (${crypto.randomUUID()}, 'OrderPlaced', '{}'::jsonb, 'PROCESSED', 1, ${tenant})`;
  }
}

/** A table's columns (name and type, in order) and all its rows: to show it was left alone. */
async function tableState(sql: Sql, table: string) {
  const columns = await sql<{ name: string; type: string }[]>`
    SELECT attname AS name, format_type(atttypid, atttypmod) AS type FROM pg_attribute
    WHERE attrelid = to_regclass(${table}) AND attnum > 0 AND NOT attisdropped ORDER BY attnum`;
  const rows = await sql.unsafe(`SELECT * FROM ${table} ORDER BY 1`);
  return { columns: [...columns], rows: [...rows] };
}

async function indexState(sql: Sql, name: string) {
  const [row] = await sql<{ valid: boolean; definition: string }[]>`
    SELECT i.indisvalid AS valid, pg_get_indexdef(i.indexrelid) AS definition
    FROM pg_index i WHERE i.indexrelid = to_regclass(${name})`;
  return row;
}

async function exists(sql: Sql, relation: string): Promise<boolean> {
  const [row] = await sql<
    { found: boolean }[]
  >`SELECT to_regclass(${relation}) IS NOT NULL AS found`;
  return row!.found;
}

async function recorded(sql: Sql) {
  return [
    ...await sql<{ name: string; applied_at: Date }[]>`
    SELECT name, applied_at FROM orchestrator_migrations ORDER BY name`,
  ];
}

/**
 * A producer session that inserted into outbox and keeps its transaction open
 * until `end()`: what a slow request or a long report looks like to us.
 */
async function openProducerTransaction(producer: postgres.Sql) {
  const inserted = Promise.withResolvers<void>();
  const release = Promise.withResolvers<void>();
  const done = producer.begin(async (tx) => {
    await tx`INSERT INTO outbox (order_id, event_type, payload)
      VALUES (${crypto.randomUUID()}, 'OrderPlaced', '{}'::jsonb)`;
    inserted.resolve();
    await release.promise;
  });
  done.catch(inserted.reject);
  await inserted.promise;
  return {
    end: async () => {
      release.resolve();
      await done;
    },
  };
}

/** One more producer insert, timed. */
async function timedInsert(producer: postgres.Sql): Promise<number> {
  const started = performance.now();
  await producer`INSERT INTO outbox (order_id, event_type, payload)
    VALUES (${crypto.randomUUID()}, 'OrderPlaced', '{}'::jsonb)`;
  return performance.now() - started;
}

function settled(p: Promise<unknown>) {
  const state = { done: false };
  p.then(() => state.done = true, () => state.done = true);
  return state;
}

/**
 * A new installation at the moment 003 starts: 001 and 002 applied, the
 * outbox index not built yet.
 */
async function installedUpToTheIndex(sql: Sql): Promise<void> {
  await migrate(sql);
  await sql`DROP INDEX outbox_pending_idx`;
  await sql`DELETE FROM orchestrator_migrations WHERE name = ${INDEX_MIGRATION}`;
}

/** The backend running our concurrent index build while it waits on a lock, once it has waited `ms`. */
function buildWaitingLongerThan(sql: Sql, ms: number) {
  return waitFor(async () => {
    const [row] = await sql<{ pid: number }[]>`
      SELECT pid FROM pg_stat_activity
      WHERE datname = current_database() AND pid <> pg_backend_pid()
        AND query ~* '^\\s*CREATE INDEX CONCURRENTLY' AND wait_event_type = 'Lock'
        AND now() - query_start > make_interval(secs => ${ms / 1000})`;
    return row?.pid;
  }, { what: "the concurrent index build to wait for the producer's transaction" });
}

/** Session limits far below what a migration needs: migrate() must lift them where it waits on purpose. */
const TIGHT_LIMITS = {
  lockTimeoutMs: 50,
  statementTimeoutMs: 200,
  idleInTransactionTimeoutMs: 60_000,
};

Deno.test("beside another tool's schema_migrations and a producer's outbox, migrations apply and a saga completes", async () => {
  const db = await freshDatabase({ migrate: false });
  const sandbox = await startSandbox();
  let orchestrator: ReturnType<typeof startInProcess> | undefined;
  try {
    // golang-migrate's table, with a row.
    await db
      .sql`CREATE TABLE schema_migrations (version bigint NOT NULL PRIMARY KEY, dirty boolean NOT NULL)`;
    await db.sql`INSERT INTO schema_migrations VALUES (20240101120000, false)`;
    await createProducerOutbox(db.sql);
    const foreignBefore = await tableState(db.sql, "schema_migrations");
    const outboxBefore = await db.sql`SELECT id, order_id, tenant, status FROM outbox ORDER BY id`;

    const applied = await migrate(db.sql);

    assert.deepEqual(applied, (await listMigrations()).map((m) => m.name));
    assert.deepEqual(await tableState(db.sql, "schema_migrations"), foreignBefore);
    assert.deepEqual(
      [...await db.sql`SELECT id, order_id, tenant, status FROM outbox ORDER BY id`],
      [...outboxBefore],
      "the producer's rows and its own column are kept",
    );
    const columns = (await tableState(db.sql, "outbox")).columns.map((c) => c.name);
    for (const c of ["tenant", "available_at", "status", "attempts"]) {
      assert.ok(columns.includes(c), c);
    }
    assert.equal((await indexState(db.sql, "outbox_pending_idx"))?.valid, true);
    const [trigger] = await db.sql`SELECT 1 FROM pg_trigger
      WHERE tgrelid = 'outbox'::regclass AND tgname = 'outbox_notify'`;
    assert.ok(trigger, "the NOTIFY trigger exists");

    orchestrator = startInProcess(db, sandbox.urls);
    const order = sampleOrder();
    await placeOrder(db.sql, order); // only (order_id, event_type, payload)
    const row = await waitForStatus(db.sql, order.order_id, [
      "COMPLETED",
      "CANCELLED",
      "NEEDS_ATTENTION",
    ]);
    assert.equal(row.status, "COMPLETED");
    const [event] = await db.sql<{ status: string; attempts: number; tenant: string }[]>`
      SELECT status, attempts, tenant FROM outbox WHERE order_id = ${order.order_id}`;
    // attempts counts from the default 001 gave the producer's column.
    assert.deepEqual({ ...event }, { status: "PROCESSED", attempts: 1, tenant: "x" });
  } finally {
    await orchestrator?.stop();
    await sandbox.close();
    await db.drop();
  }
});

Deno.test("a Rails schema_migrations (version varchar) is neither read nor written", async () => {
  const db = await freshDatabase({ migrate: false });
  try {
    await db.sql`CREATE TABLE schema_migrations (version character varying NOT NULL PRIMARY KEY)`;
    await db.sql`INSERT INTO schema_migrations VALUES ('20240101120000'), ('20240202120000')`;
    const before = await tableState(db.sql, "schema_migrations");
    const applied = await migrate(db.sql);
    assert.deepEqual(applied, (await listMigrations()).map((m) => m.name));
    assert.deepEqual(await tableState(db.sql, "schema_migrations"), before);
  } finally {
    await db.drop();
  }
});

Deno.test("two instances migrating at once both succeed, each file applied once; again is a no-op", async () => {
  const db = await freshDatabase({ migrate: false });
  const a = createSql(db.url, { max: 2, limits: TIGHT_LIMITS });
  const b = createSql(db.url, { max: 2, limits: TIGHT_LIMITS });
  try {
    const [fromA, fromB] = await Promise.all([migrate(a), migrate(b)]);
    const all = (await listMigrations()).map((m) => m.name);
    assert.deepEqual([...fromA, ...fromB].sort(), all, "every file applied exactly once");
    assert.deepEqual((await recorded(db.sql)).map((r) => r.name), all);
    assert.deepEqual(await migrate(a), []);
    assert.deepEqual(await migrate(b), []);
    // The reserved connection goes back to the pool with the session's own limits.
    const [limits] = await a`SELECT current_setting('lock_timeout') AS lock,
      current_setting('statement_timeout') AS statement`;
    assert.deepEqual({ ...limits }, { lock: "50ms", statement: "200ms" });
  } finally {
    await a.end({ timeout: 2 });
    await b.end({ timeout: 2 });
    await db.drop();
  }
});

/** What migrate() did before orchestrator_migrations: one transaction, recorded in schema_migrations. */
async function migrateTheOldWay(sql: Sql): Promise<void> {
  const old = (await listMigrations()).filter((m) =>
    ["001_core.sql", "002_hot_updates.sql"].includes(m.name)
  );
  await sql.begin(async (tx) => {
    await tx`CREATE TABLE IF NOT EXISTS schema_migrations (
      name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`;
    for (const m of old) {
      await tx.unsafe(m.sql);
      // 001 as released built the outbox index itself, inside this transaction.
      if (m.name === "001_core.sql") {
        await tx`CREATE INDEX IF NOT EXISTS outbox_pending_idx ON outbox (id) WHERE status = 'PENDING'`;
      }
      await tx`INSERT INTO schema_migrations (name) VALUES (${m.name})`;
    }
  });
}

Deno.test("an installation migrated by the old code is adopted: nothing re-applied", async () => {
  const db = await freshDatabase({ migrate: false });
  const producer = postgres(db.url, { max: 1, onnotice: () => {} });
  try {
    await migrateTheOldWay(db.sql);
    const legacy = await tableState(db.sql, "schema_migrations");
    const { logger, lines } = capturingLogger();
    // Upgraded under traffic: 003 finds the index there and waits for nobody,
    // so it is applied (with 004 and 005) while the producer's transaction is
    // open. 007 builds an index of its own concurrently, which waits for that
    // transaction (as every concurrent build must; never the other way round:
    // inserts go on meanwhile), so it ends only after it.
    const long = await openProducerTransaction(producer);
    const migrating = migrate(db.sql, { logger });
    const applying = () => recorded(db.sql).catch(() => []); // the table may not exist yet
    await waitFor(async () => (await applying()).some((r) => r.name === COUNTS_MIGRATION), {
      what: "003 to 005 applied while the producer's transaction is open",
    });
    await waitFor(async () => {
      const [r] = await db.sql<{ n: number }[]>`
        SELECT count(*)::int AS n FROM pg_stat_activity
        WHERE query LIKE 'CREATE INDEX CONCURRENTLY%' AND wait_event = 'virtualxid'
          AND pid <> pg_backend_pid()`;
      return r!.n > 0;
    }, { what: "a concurrent build to wait for the producer" });
    await db.sql`INSERT INTO outbox (order_id, event_type, payload)
      VALUES (${crypto.randomUUID()}, 'OrderPlaced', '{}'::jsonb)`;
    await long.end();
    const applied = await migrating;

    assert.deepEqual(
      applied,
      [
        INDEX_MIGRATION,
        GATE_MIGRATION,
        COUNTS_MIGRATION,
        FINISHED_AT_MIGRATION,
        DEAD_INDEX_MIGRATION,
        RETENTION_INDEX_MIGRATION,
        LEASE_INDEX_MIGRATION,
        GATE_SEQUENCE_MIGRATION,
      ],
      "only the files the old code did not have",
    );
    // 002 dropped this index; 001 run again would have brought it back.
    assert.equal(await exists(db.sql, "order_ledger_status_idx"), false);
    assert.deepEqual(
      (await recorded(db.sql)).slice(0, 2),
      legacy.rows.map((r) => ({ name: r.name, applied_at: r.applied_at })),
      "adopted with their original dates",
    );
    assert.deepEqual(await tableState(db.sql, "schema_migrations"), legacy, "left alone");
    assert.ok(lines.some((l) => l.msg.includes("schema_migrations")), "adoption is logged");
    assert.equal((await indexState(db.sql, "outbox_pending_idx"))?.valid, true);

    assert.deepEqual(await migrate(db.sql), []);
    assert.equal((await recorded(db.sql)).length, (await listMigrations()).length);
  } finally {
    await producer.end({ timeout: 2 });
    await db.drop();
  }
});

Deno.test("010 re-creates the outbox trigger gated, keeping it disabled or always-on as an operator set it", async () => {
  const db = await freshDatabase();
  try {
    const gateMigration = (await listMigrations()).find((m) => m.name === GATE_SEQUENCE_MIGRATION)!;
    const trigger = async () => {
      const [row] = await db.sql<{ enabled: string; def: string }[]>`
        SELECT tgenabled AS enabled, pg_get_triggerdef(oid) AS def FROM pg_trigger
        WHERE tgrelid = 'outbox'::regclass AND tgname = 'outbox_notify'`;
      return row!;
    };
    for (const [set, expected] of [["DISABLE", "D"], ["ENABLE ALWAYS", "A"], ["ENABLE", "O"]]) {
      await db.sql.unsafe(`ALTER TABLE outbox ${set} TRIGGER outbox_notify`);
      await db.sql.begin((tx) => tx.unsafe(gateMigration.sql));
      const after = await trigger();
      assert.equal(after.enabled, expected, `${set} kept`);
      assert.match(after.def, /WHEN .*pg_sequence_last_value\(/, "the gated trigger");
    }
  } finally {
    await db.drop();
  }
});

Deno.test("a schema_migrations of our shape without our tables is not taken for ours", async () => {
  const db = await freshDatabase({ migrate: false });
  try {
    await db.sql`CREATE TABLE schema_migrations (
      name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`;
    await db.sql`INSERT INTO schema_migrations (name) VALUES ('001_core.sql')`;
    const before = await tableState(db.sql, "schema_migrations");
    const applied = await migrate(db.sql);
    assert.deepEqual(applied, (await listMigrations()).map((m) => m.name));
    assert.ok(await exists(db.sql, "order_ledger"));
    assert.deepEqual(await tableState(db.sql, "schema_migrations"), before);
  } finally {
    await db.drop();
  }
});

Deno.test("a producer's long transaction: DDL on outbox waits in short slices, never holding up inserts", async () => {
  const db = await freshDatabase({ migrate: false });
  const producer = postgres(db.url, { max: 2, onnotice: () => {} });
  try {
    await createProducerOutbox(db.sql);
    const long = await openProducerTransaction(producer);
    const { logger, lines } = capturingLogger();
    const migrating = migrate(db.sql, {
      logger,
      lockTimeoutMs: 50,
      lockAttempts: 200,
      lockRetryPauseMs: 20,
    });
    const state = settled(migrating);
    await waitFor(() => lines.some((l) => l.level === 40 && l.migration === "001_core.sql"), {
      what: "a lock-timeout retry of 001",
    });
    // While migrate keeps trying for its ACCESS EXCLUSIVE lock, new inserts
    // queue behind it at most one slice, instead of until the long one ends.
    assert.ok((await timedInsert(producer)) < 1_000, "the producer's insert was not held up");
    assert.equal(state.done, false, "migrate is still trying");
    await long.end();
    assert.deepEqual(await migrating, (await listMigrations()).map((m) => m.name));
  } finally {
    await producer.end({ timeout: 2 });
    await db.drop();
  }
});

Deno.test("a table lock never granted: migrate gives up naming the migration, nothing half-applied", async () => {
  const db = await freshDatabase({ migrate: false });
  const producer = postgres(db.url, { max: 2, onnotice: () => {} });
  try {
    await createProducerOutbox(db.sql);
    const long = await openProducerTransaction(producer);
    const err = await migrate(db.sql, { lockTimeoutMs: 50, lockAttempts: 3, lockRetryPauseMs: 10 })
      .then(() => undefined, (e: Error) => e);
    await long.end();
    assert.ok(err instanceof Error, "migrate failed");
    assert.equal(err.name, "MigrationError");
    assert.equal((err as Error & { migration?: string }).migration, "001_core.sql");
    assert.match(err.message, /001_core\.sql/);
    assert.match(err.message, /lock/);
    assert.ok(err.cause, "keeps the database error as its cause");
    assert.equal(await exists(db.sql, "order_ledger"), false, "001 rolled back");
    const columns = (await tableState(db.sql, "outbox")).columns.map((c) => c.name);
    assert.ok(!columns.includes("available_at"));
    // Once the producer's transaction is gone, the next start succeeds.
    assert.deepEqual(await migrate(db.sql), (await listMigrations()).map((m) => m.name));
  } finally {
    await producer.end({ timeout: 2 });
    await db.drop();
  }
});

Deno.test("the outbox index is built concurrently: an open producer transaction delays the build, not other inserts", async () => {
  const db = await freshDatabase({ migrate: false });
  const migrator = createSql(db.url, { max: 2, limits: TIGHT_LIMITS });
  const producer = postgres(db.url, { max: 2, onnotice: () => {} });
  try {
    await installedUpToTheIndex(db.sql);
    const long = await openProducerTransaction(producer);
    const migrating = migrate(migrator);
    const state = settled(migrating);
    // The build waits for transactions already writing the table, well past
    // the session's lock and statement timeouts, without failing...
    await buildWaitingLongerThan(db.sql, 4 * TIGHT_LIMITS.statementTimeoutMs);
    // ...and meanwhile the producer writes as usual.
    assert.ok((await timedInsert(producer)) < 1_000, "the producer's insert was not held up");
    assert.equal(state.done, false, "the build is still waiting");
    await long.end();
    assert.deepEqual(await migrating, [INDEX_MIGRATION]);
    const index = await indexState(db.sql, "outbox_pending_idx");
    assert.equal(index?.valid, true);
    assert.match(index!.definition, /\(id\) WHERE \(status = 'PENDING'::text\)/);
  } finally {
    await producer.end({ timeout: 2 });
    await migrator.end({ timeout: 2 });
    await db.drop();
  }
});

Deno.test("an instance starting during another's index build waits its turn, without deadlock", async () => {
  const db = await freshDatabase({ migrate: false });
  const producer = postgres(db.url, { max: 2, onnotice: () => {} });
  const second = createSql(db.url, { max: 2 });
  try {
    await installedUpToTheIndex(db.sql);
    const long = await openProducerTransaction(producer);
    // Failures are kept as values, to be seen in the assertions below.
    const building = migrate(db.sql).catch((e: Error) => e);
    await buildWaitingLongerThan(db.sql, 0);
    const { logger, lines } = capturingLogger();
    const waiting = migrate(second, { logger }).catch((e: Error) => e);
    await waitFor(() => lines.some((l) => /another instance/i.test(l.msg)), {
      what: "the second instance to wait for the first",
    });
    // A waiter blocked inside pg_advisory_lock would hold a snapshot that the
    // build waits for, while it waits for the build's lock.
    await long.end();
    assert.deepEqual(await building, [INDEX_MIGRATION]);
    assert.deepEqual(await waiting, []);
  } finally {
    await second.end({ timeout: 2 });
    await producer.end({ timeout: 2 });
    await db.drop();
  }
});

Deno.test("a failed concurrent build leaves an INVALID index: the next migrate drops and rebuilds it", async () => {
  const db = await freshDatabase({ migrate: false });
  const producer = postgres(db.url, { max: 2, onnotice: () => {} });
  try {
    await installedUpToTheIndex(db.sql);
    const long = await openProducerTransaction(producer);
    const interrupted = migrate(db.sql).then(() => undefined, (e: Error) => e);
    const pid = await buildWaitingLongerThan(db.sql, 0);
    await db.sql`SELECT pg_cancel_backend(${pid})`;
    const err = await interrupted;
    await long.end();
    assert.equal(err?.name, "MigrationError");
    assert.match(err!.message, new RegExp(INDEX_MIGRATION.replace(".", "\\.")));
    assert.equal((await indexState(db.sql, "outbox_pending_idx"))?.valid, false, "left INVALID");

    const { logger, lines } = capturingLogger();
    assert.deepEqual(await migrate(db.sql, { logger }), [INDEX_MIGRATION]);
    assert.equal((await indexState(db.sql, "outbox_pending_idx"))?.valid, true);
    assert.ok(lines.some((l) => l.level === 40 && /invalid/i.test(l.msg)), "the repair is logged");
  } finally {
    await producer.end({ timeout: 2 });
    await db.drop();
  }
});

Deno.test("a no-transaction file is split into statements at line-ending semicolons", () => {
  const file = [
    "-- migrate: no-transaction",
    "-- why",
    "",
    "CREATE INDEX CONCURRENTLY IF NOT EXISTS a_idx",
    "  ON t (x); ",
    "-- a comment; not a statement",
    "DROP INDEX CONCURRENTLY IF EXISTS b_idx;",
    "",
  ].join("\n");
  assert.deepEqual(statementsOf(file), [
    { text: "CREATE INDEX CONCURRENTLY IF NOT EXISTS a_idx\n  ON t (x);", line: 4 },
    { text: "DROP INDEX CONCURRENTLY IF EXISTS b_idx;", line: 7 },
  ]);
  assert.equal(
    concurrentIndexName("CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS a_idx ON t"),
    "a_idx",
  );
  assert.equal(concurrentIndexName("CREATE INDEX CONCURRENTLY a_idx ON t (x)"), undefined);
  assert.equal(isConcurrent("DROP INDEX CONCURRENTLY IF EXISTS b_idx"), true);
  assert.equal(isConcurrent("ALTER TABLE outbox ADD COLUMN c int"), false);
});
