// loadConfig for the database connection variables and the instance name:
// defaults, accepted values, and a ConfigError naming the variable for
// anything else.
import assert from "node:assert/strict";
import { loadConfig } from "../src/config.ts";
import { ConfigError } from "../src/errors.ts";

const load = (env: Record<string, string>) => loadConfig(env, { hostname: "h", pid: 1 });

function refused(env: Record<string, string>, variable: string) {
  assert.throws(() => load(env), (err: unknown) => {
    assert.ok(err instanceof ConfigError, `a ConfigError: ${err}`);
    assert.equal(err.variable, variable);
    assert.match(err.message, new RegExp(variable));
    return true;
  });
}

Deno.test("DATABASE_PREPARED_STATEMENTS: true by default, false turns them off, anything else is refused", () => {
  assert.equal(load({}).dbPreparedStatements, true);
  const pooled = { MIGRATE: "false" };
  assert.equal(
    load({ ...pooled, DATABASE_PREPARED_STATEMENTS: "false" }).dbPreparedStatements,
    false,
  );
  assert.equal(
    load({ ...pooled, DATABASE_PREPARED_STATEMENTS: "off" }).dbPreparedStatements,
    false,
  );
  assert.equal(load({ DATABASE_PREPARED_STATEMENTS: "true" }).dbPreparedStatements, true);
  refused({ DATABASE_PREPARED_STATEMENTS: "sometimes" }, "DATABASE_PREPARED_STATEMENTS");
});

Deno.test("MIGRATE through a transaction pooler needs a direct LISTEN_DATABASE_URL, or MIGRATE=false", () => {
  // Migrations hold a session: a transaction pooler cannot give them one.
  refused({ DATABASE_PREPARED_STATEMENTS: "false" }, "MIGRATE");
  const direct = load({
    DATABASE_PREPARED_STATEMENTS: "false",
    LISTEN_DATABASE_URL: "postgres://u:p@db:5432/app",
  });
  assert.equal(direct.migrate, true);
});

Deno.test("LISTEN_DATABASE_URL: unset by default, a postgres URL when set, never echoed with its password", () => {
  assert.equal(load({}).listenDatabaseUrl, undefined);
  const direct = "postgres://app:secret@db.internal:5432/shop";
  assert.equal(load({ LISTEN_DATABASE_URL: direct }).listenDatabaseUrl, direct);
  refused({ LISTEN_DATABASE_URL: "http://db.internal/shop" }, "LISTEN_DATABASE_URL");
  try {
    load({ LISTEN_DATABASE_URL: "mysql://app:secret@db/shop" });
    assert.fail("refused");
  } catch (err) {
    assert.ok(!String(err).includes("secret"), `no password in: ${err}`);
  }
});

Deno.test("DATABASE_SSLMODE: the DATABASE_HOST parts get sslmode=prefer by default, or the mode asked for", () => {
  const parts = { DATABASE_HOST: "db.internal", DATABASE_NAME: "shop" };
  const url = (env: Record<string, string>) => new URL(load(env).database!.url);
  assert.equal(url(parts).searchParams.get("sslmode"), "prefer");
  for (const mode of ["disable", "prefer", "require", "verify-full"]) {
    assert.equal(url({ ...parts, DATABASE_SSLMODE: mode }).searchParams.get("sslmode"), mode);
  }
  assert.equal(
    url({ ...parts, DATABASE_SSLMODE: "REQUIRE" }).searchParams.get("sslmode"),
    "require",
  );
  assert.equal(url(parts).pathname, "/shop");
});

Deno.test("DATABASE_SSLMODE: a bad value is refused, even when DATABASE_URL wins", () => {
  refused({ DATABASE_HOST: "db", DATABASE_SSLMODE: "maybe" }, "DATABASE_SSLMODE");
  // libpq's verify-ca and allow mean something else in postgres.js: refused, not silently changed.
  refused({ DATABASE_HOST: "db", DATABASE_SSLMODE: "verify-ca" }, "DATABASE_SSLMODE");
  refused({ DATABASE_HOST: "db", DATABASE_SSLMODE: "allow" }, "DATABASE_SSLMODE");
  refused({ DATABASE_URL: "postgres://a@b/c", DATABASE_SSLMODE: "maybe" }, "DATABASE_SSLMODE");
});

Deno.test("DATABASE_URL keeps its own sslmode and gets none added", () => {
  const withMode = "postgres://app@db.internal:5432/shop?sslmode=require";
  assert.equal(load({ DATABASE_URL: withMode }).database!.url, withMode);
  const without = "postgres://app@db.internal:5432/shop";
  assert.equal(load({ DATABASE_URL: without, DATABASE_SSLMODE: "require" }).database!.url, without);
});

Deno.test("ADMIN_TOKENS names operators; ADMIN_TOKEN alone is the operator admin; none is an open API", () => {
  assert.deepEqual(load({}).admin.operators, []);
  assert.deepEqual(load({ ADMIN_TOKEN: "t0" }).admin.operators, [{ name: "admin", token: "t0" }]);
  assert.deepEqual(
    load({ ADMIN_TOKENS: "alice:t1, bob.ops@example:t:2 ,ci_bot-1:t3" }).admin.operators,
    [
      { name: "alice", token: "t1" },
      { name: "bob.ops@example", token: "t:2" }, // split at the first colon
      { name: "ci_bot-1", token: "t3" },
    ],
  );
  // Both: the single token keeps working beside the named ones; one name may
  // hold two tokens while one is rotated out.
  assert.deepEqual(load({ ADMIN_TOKEN: "t0", ADMIN_TOKENS: "alice:t1,alice:t2" }).admin.operators, [
    { name: "admin", token: "t0" },
    { name: "alice", token: "t1" },
    { name: "alice", token: "t2" },
  ]);
});

Deno.test("ADMIN_TOKENS: a bad value is refused naming the variable and the entry, never a token", () => {
  for (
    const [value, why] of [
      ["alice", /entry 1 has no "name:" part/],
      ["alice:t1,:t2", /entry 2 has an invalid name/],
      ["al ice:t1", /entry 1 has an invalid name/],
      ["alice:", /entry 1 \(alice\) has an empty or invalid token/],
      ["alice:t 1", /entry 1 \(alice\) has an empty or invalid token/],
      ["alice:t1,,bob:t2", /entry 2 has no "name:" part/],
      ["alice:t1,bob:t1", /entry 2 \(bob\) repeats the token of alice/],
    ] as const
  ) {
    assert.throws(() => load({ ADMIN_TOKENS: value }), (err: unknown) => {
      assert.ok(err instanceof ConfigError, `a ConfigError for ${value}: ${err}`);
      assert.equal(err.variable, "ADMIN_TOKENS");
      assert.match(err.message, why);
      for (const secret of ["t1", "t2", "t 1"]) {
        assert.ok(!err.message.includes(`:${secret}`), `no token in: ${err.message}`);
      }
      return true;
    });
  }
  // ADMIN_TOKEN's own token is one of them too.
  refused({ ADMIN_TOKEN: "same", ADMIN_TOKENS: "alice:same" }, "ADMIN_TOKENS");
});

Deno.test("a non-loopback ADMIN_HOST needs ADMIN_TOKEN or ADMIN_TOKENS", () => {
  refused({ ADMIN_HOST: "0.0.0.0" }, "ADMIN_TOKEN");
  assert.equal(load({ ADMIN_HOST: "0.0.0.0", ADMIN_TOKEN: "t0" }).admin.operators.length, 1);
  assert.equal(load({ ADMIN_HOST: "0.0.0.0", ADMIN_TOKENS: "alice:t1" }).admin.operators.length, 1);
});

Deno.test("INSTANCE_ID: hostname-pid-nonce by default, unique per process even with one hostname and pid", () => {
  assert.equal(loadConfig({}, { hostname: "h", pid: 1, nonce: "0a1b2c" }).instanceId, "h-1-0a1b2c");
  // Replicas on a host network share the hostname, and each container's
  // process may have the same pid: the random nonce still tells them apart.
  const ids = new Set(Array.from({ length: 50 }, () => load({}).instanceId));
  assert.equal(ids.size, 50);
  for (const id of ids) assert.match(id, /^h-1-[0-9a-f]{6}$/);
  assert.equal(load({ INSTANCE_ID: "orders-eu-1" }).instanceId, "orders-eu-1");
});
