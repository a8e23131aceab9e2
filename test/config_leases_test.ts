// Configuration rules about leases and database waits (src/config.ts), unit-level:
// what start-up turns into exit code 2 with the variable named.
import assert from "node:assert/strict";
import { loadConfig } from "../src/config.ts";
import { ConfigError } from "../src/errors.ts";

const load = (env: Record<string, string>) => loadConfig(env, { hostname: "h", pid: 1 });

function refused(env: Record<string, string>, variable: string, expected: RegExp) {
  assert.throws(() => load(env), (err: unknown) => {
    assert.ok(err instanceof ConfigError);
    assert.equal(err.variable, variable);
    assert.match(err.message, expected);
    return true;
  });
}

Deno.test("HEARTBEAT_MS must leave room for a missed beat: at most half of LEASE_MS", () => {
  assert.equal(load({ LEASE_MS: "10000" }).heartbeatMs, 3333);
  assert.equal(load({ LEASE_MS: "10000", HEARTBEAT_MS: "5000" }).heartbeatMs, 5000);
  refused({ LEASE_MS: "10000", HEARTBEAT_MS: "9900" }, "HEARTBEAT_MS", /at most half of LEASE_MS/);
});

Deno.test("database waits are bounded by default and configurable", () => {
  const d = load({}).dbLimits;
  assert.deepEqual(d, {
    lockTimeoutMs: 2000,
    statementTimeoutMs: 10_000,
    idleInTransactionTimeoutMs: 60_000,
  });
  assert.equal(load({ DB_LOCK_TIMEOUT_MS: "500" }).dbLimits.lockTimeoutMs, 500);
  refused({ DB_LOCK_TIMEOUT_MS: "0" }, "DB_LOCK_TIMEOUT_MS", /an integer from 1/);
  refused({ DB_STATEMENT_TIMEOUT_MS: "soon" }, "DB_STATEMENT_TIMEOUT_MS", /an integer/);
});
