// A database that stops while a transaction is in flight must not end the
// process (postgres.js 3.4.9 throws from a timer then: porsager/postgres#1208).
import assert from "node:assert/strict";
import postgres from "postgres";
import { startEmbedded } from "../src/db/embedded.ts";
import { createLogger } from "../src/log.ts";
import {
  guardDriverWriteRace,
  isDriverWriteRace,
  VERIFIED_POSTGRES_VERSION,
} from "../src/db/driver_guard.ts";
import { freePort } from "../tooling/cluster/mod.ts";

Deno.test("a transaction cut off by a database shutdown fails cleanly and the process survives", async () => {
  guardDriverWriteRace(createLogger("silent"));
  const dir = await Deno.makeTempDir({ prefix: "driver-guard-" });
  await Deno.chmod(dir, 0o755);
  const port = await freePort();
  let server = await startEmbedded({ dataDir: `${dir}/pg`, port, logger: createLogger("warn") });
  const sql = postgres(server.url, { max: 2, onnotice: () => {} });
  try {
    await sql`SELECT 1`;
    const tx = sql.begin(async (tx) => {
      await tx`SELECT pg_sleep(3)`;
    }).then(() => "committed", (e) => String(e));
    // Stop the server once the statement is running.
    const admin = postgres(server.url, { max: 1, onnotice: () => {} });
    for (;;) {
      const r =
        await admin`SELECT 1 FROM pg_stat_activity WHERE query LIKE '%pg_sleep(3)%' AND pid <> pg_backend_pid()`;
      if (r.length) break;
    }
    await admin.end({ timeout: 1 });
    await server.stop();
    assert.match(await tx, /CONNECTION_CLOSED|ECONNRESET|terminat/i);
    // The deferred write fires on the next turns of the event loop; we must still be here.
    await new Promise((r) => setTimeout(r, 200));
    server = await startEmbedded({ dataDir: `${dir}/pg`, port, logger: createLogger("warn") });
    const [row] = await sql`SELECT 2 AS two`;
    assert.equal(row?.two, 2, "the same pool works after the restart");
  } finally {
    await sql.end({ timeout: 1 }).catch(() => {});
    await server.stop();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});

Deno.test("the write-race guard matches any postgres.js version, and is re-verified on an upgrade", async () => {
  const race = (path: string) => {
    const err = new TypeError("Cannot read properties of undefined (reading 'write')");
    err.stack = `TypeError: ${err.message}\n    at write (file://${path}:1:1)`;
    return err;
  };
  for (const version of ["3.4.9", "3.5.0"]) {
    const path =
      `/app/node_modules/.deno/postgres@${version}/node_modules/postgres/src/connection.js`;
    assert.ok(isDriverWriteRace(race(path)), `matches ${version}`);
  }
  assert.ok(!isDriverWriteRace(race("/app/src/db/client.ts")), "not our own code");
  const pinned = JSON.parse(await Deno.readTextFile("deno.json")).imports.postgres as string;
  assert.equal(
    pinned,
    `npm:postgres@${VERIFIED_POSTGRES_VERSION}`,
    "postgres.js was upgraded: check whether porsager/postgres#1208 still exists, then update " +
      "VERIFIED_POSTGRES_VERSION in src/db/driver_guard.ts",
  );
});
