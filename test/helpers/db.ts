// A fresh, migrated database per test on the suite's server (DATABASE_URL,
// provided by `deno task test`), dropped afterwards.
import postgres from "postgres";
import { createSql, type Sql } from "../../src/db/client.ts";
import { migrate } from "../../src/db/migrate.ts";

export interface TestDatabase {
  url: string;
  sql: Sql;
  drop(): Promise<void>;
}

function serverUrl(): string {
  const url = Deno.env.get("DATABASE_URL");
  if (!url) {
    throw new Error("DATABASE_URL is not set: run the tests with `deno task test`");
  }
  return url;
}

export async function freshDatabase(opts: { migrate?: boolean } = {}): Promise<TestDatabase> {
  const admin = postgres(serverUrl(), { max: 1, onnotice: () => {} });
  const name = `t_${crypto.randomUUID().replaceAll("-", "").slice(0, 16)}`;
  await admin.unsafe(`CREATE DATABASE ${name}`);
  const u = new URL(serverUrl());
  u.pathname = `/${name}`;
  const url = u.toString();
  const sql = createSql(url, { max: 5 });
  if (opts.migrate !== false) await migrate(sql);
  return {
    url,
    sql,
    async drop() {
      await sql.end({ timeout: 2 });
      await admin.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.end({ timeout: 2 });
    },
  };
}
