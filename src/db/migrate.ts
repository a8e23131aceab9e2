// Applies the numbered SQL files in ./migrations once each, in order, under a
// transaction-scoped advisory lock: instances starting together queue here,
// and the second one finds nothing left to do.
import type { Sql } from "./client.ts";

const LOCK_KEY = 727_001; // any constant, shared by every instance
const DIR = new URL("./migrations/", import.meta.url);

export async function listMigrations(): Promise<Array<{ name: string; sql: string }>> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(DIR)) {
    if (entry.isFile && /^\d+_.*\.sql$/.test(entry.name)) names.push(entry.name);
  }
  names.sort();
  return await Promise.all(
    names.map(async (name) => ({ name, sql: await Deno.readTextFile(new URL(name, DIR)) })),
  );
}

/** Returns the names of the migrations this call applied. */
export async function migrate(sql: Sql): Promise<string[]> {
  const migrations = await listMigrations();
  return await sql.begin(async (tx) => {
    await tx`SELECT pg_advisory_xact_lock(${LOCK_KEY})`;
    await tx`CREATE TABLE IF NOT EXISTS schema_migrations (
      name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`;
    const done = new Set(
      (await tx<{ name: string }[]>`SELECT name FROM schema_migrations`).map((r) => r.name),
    );
    const applied: string[] = [];
    for (const m of migrations) {
      if (done.has(m.name)) continue;
      await tx.unsafe(m.sql);
      await tx`INSERT INTO schema_migrations (name) VALUES (${m.name})`;
      applied.push(m.name);
    }
    return applied;
  });
}
