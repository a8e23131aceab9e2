// A peer's own database on the benchmark's PostgreSQL server, empty: the
// peer creates its schema itself (our migrations are not applied there).
import postgres from "postgres";
import type { DatabaseServer } from "../../cluster/mod.ts";

/** Drops database `name` if it exists and creates it empty; returns its URL. */
export async function emptyDatabase(server: DatabaseServer, name: string): Promise<string> {
  if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`bad database name "${name}"`);
  const admin = postgres(server.adminUrl, { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.unsafe(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end({ timeout: 2 });
  }
  return server.url(name);
}
