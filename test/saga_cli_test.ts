// `deno task saga` for real: the CLI runs as its own process, with exactly
// the saga task's permissions, against a real admin API served on a free
// loopback port over a test database, with real sagas (one parked by a
// confirmation that keeps failing, one stuck before its capture, a dead
// letter). Checks the tables, --json, every action, and the errors.
import assert from "node:assert/strict";
import { createAdminApp } from "../src/admin/app.ts";
import { startSandbox } from "../tooling/reference_services/mod.ts";
import { startInProcess } from "./helpers/inprocess.ts";
import { ledger, placeOrder, sampleOrder, waitFor, waitForStatus } from "./helpers/orders.ts";
import { freePort, freshDatabase } from "../tooling/cluster/mod.ts";

const ROOT = new URL("../", import.meta.url);
const TOKEN = "cli-test-token";

/** `deno run <flags> src/tools/saga_cli.ts`, taken from the saga task: the same least privilege. */
function taskArgs(): string[] {
  const deno = JSON.parse(Deno.readTextFileSync(new URL("deno.json", ROOT)));
  const task = deno.tasks.saga;
  return (typeof task === "string" ? task : task.command).split(/\s+/).slice(1);
}

async function saga(env: Record<string, string>, ...args: string[]) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [...taskArgs(), ...args],
    cwd: ROOT,
    env: { NO_COLOR: "1", ADMIN_TOKEN: "", ...env },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, stdout: text(out.stdout), stderr: text(out.stderr) };
}

Deno.test("deno task saga lists, shows, counts, retries, cancels and redrives against a running admin API", async () => {
  const db = await freshDatabase();
  const sandbox = await startSandbox();
  const orch = startInProcess(db, sandbox.urls, {
    CONFIRM_MAX_ATTEMPTS: "2",
    STEP_MAX_ATTEMPTS: "1000",
  });
  const app = createAdminApp({
    sql: db.sql,
    listening: orch.listening,
    operators: [{ name: "alice", token: TOKEN }],
    instanceId: "cli-test",
  });
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, app.fetch);
  const env = { ADMIN_URL: `http://127.0.0.1:${server.addr.port}`, ADMIN_TOKEN: TOKEN };
  try {
    const parked = sampleOrder();
    const stuck = sampleOrder();
    const bad = sampleOrder();
    sandbox.orders.setFaults({
      rules: [{ method: "POST", path: "/confirmation", orderId: parked.order_id }],
    });
    sandbox.inventory.setFaults({
      rules: [{ method: "POST", path: "/reservations", orderId: stuck.order_id }],
    });
    await placeOrder(db.sql, parked);
    await placeOrder(db.sql, stuck);
    await placeOrder(db.sql, { ...bad, total_cents: 1 });
    await waitForStatus(db.sql, parked.order_id, ["NEEDS_ATTENTION"]);
    await waitFor(async () =>
      (await ledger(db.sql, stuck.order_id))?.state === "reservingInventory"
    );
    const [dead] = await waitFor(async () => {
      const rows = await db.sql<{ id: string; status: string }[]>`
        SELECT id, status FROM outbox WHERE order_id = ${bad.order_id}`;
      return rows[0]?.status === "DEAD" ? rows : undefined;
    });

    // counts: a table, and the API's JSON with --json.
    const counts = await saga(env, "counts");
    assert.equal(counts.code, 0, counts.stderr);
    assert.match(counts.stdout, /status\s+sagas\n/);
    assert.match(counts.stdout, /NEEDS_ATTENTION\s+1\n/);
    assert.match(counts.stdout, /RUNNING\s+1\n/);
    const countsJson = await saga(env, "counts", "--json");
    assert.deepEqual(JSON.parse(countsJson.stdout), {
      RUNNING: 1,
      COMPLETED: 0,
      CANCELLED: 0,
      NEEDS_ATTENTION: 1,
    });

    const list = await saga(env, "list", "--status", "NEEDS_ATTENTION");
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /order_id\s+status\s+state\s+updated_at/);
    assert.match(
      list.stdout,
      new RegExp(`${parked.order_id}\\s+NEEDS_ATTENTION\\s+needsAttention`),
    );
    assert.ok(!list.stdout.includes(stuck.order_id));
    const paged = await saga(env, "list", "--limit", "1", "--json");
    const page = JSON.parse(paged.stdout);
    assert.equal(page.items.length, 1);
    const more = await saga(env, "list", "--limit", "1");
    assert.match(
      more.stdout,
      new RegExp(`More: deno task saga list --limit 1 --cursor ${page.next_cursor}`),
    );

    const show = await saga(env, "show", parked.order_id);
    assert.equal(show.code, 0, show.stderr);
    assert.match(
      show.stdout,
      /^order_id\s+[0-9a-f-]{36}\nstatus\s+NEEDS_ATTENTION\nstate\s+needsAttention\n/,
    );
    assert.match(show.stdout, /History \(\d+ rows\)/);
    assert.match(show.stdout, /confirmOrder:transient/);

    const outbox = await saga(env, "outbox", "--status", "DEAD");
    assert.equal(outbox.code, 0, outbox.stderr);
    assert.match(
      outbox.stdout,
      new RegExp(
        `^\\s+${dead!.id}\\s+DEAD\\s+OrderPlaced\\s+${bad.order_id}\\s+1\\s+invalid OrderPlaced`,
        "m",
      ),
    );

    // Actions.
    sandbox.orders.setFaults({});
    const retry = await saga(env, "retry", parked.order_id);
    assert.equal(retry.code, 0, retry.stderr);
    assert.equal(
      retry.stdout.trim(),
      `Retry accepted: saga ${parked.order_id} (state needsAttention) is RUNNING again.`,
    );
    await waitForStatus(db.sql, parked.order_id, ["COMPLETED"]);
    const [retryRow] = await db.sql<{ instance_id: string }[]>`
      SELECT instance_id FROM saga_history WHERE order_id = ${parked.order_id} AND event = 'AdminRetry'`;
    assert.equal(retryRow?.instance_id, "admin:alice@cli-test");
    const again = await saga(env, "retry", parked.order_id);
    assert.equal(again.code, 1);
    assert.match(
      again.stderr,
      /^409: saga is COMPLETED; only a NEEDS_ATTENTION saga can be retried/,
    );
    const bulk = await saga(env, "retry", "--state", "needsAttention");
    assert.equal(bulk.code, 0, bulk.stderr);
    assert.equal(bulk.stdout.trim(), "Retried 0 parked sagas.");

    const cancel = await saga(env, "cancel", stuck.order_id, "--reason", "ops: duplicate order");
    assert.equal(cancel.code, 0, cancel.stderr);
    assert.match(
      cancel.stdout,
      /^Cancellation requested for saga .* reason: ops: duplicate order\)/,
    );
    await waitForStatus(db.sql, stuck.order_id, ["CANCELLED"]);

    await db.sql`UPDATE outbox SET payload = ${db.sql.json(bad as never)} WHERE id = ${dead!.id}`;
    const redrive = await saga(env, "redrive", dead!.id);
    assert.equal(redrive.code, 0, redrive.stderr);
    assert.match(
      redrive.stdout,
      new RegExp(
        `^Event ${
          dead!.id
        } \\(OrderPlaced of order ${bad.order_id}\\) is PENDING again\\.\\nIt had been dead-lettered for: invalid OrderPlaced`,
      ),
    );
    await waitForStatus(db.sql, bad.order_id, ["COMPLETED"]);
    const redriveJson = await saga(env, "redrive", dead!.id, "--json");
    assert.equal(redriveJson.code, 1);
    assert.equal(redriveJson.stdout, "");
    assert.match(redriveJson.stderr, /^409: event \d+ is PROCESSED/);
  } finally {
    await server.shutdown();
    await orch.stop();
    await sandbox.close();
    await db.drop();
  }
});

Deno.test("deno task saga says what went wrong and exits non-zero: 401, 404, 400, refused, not permitted, bad usage", async () => {
  const db = await freshDatabase();
  const app = createAdminApp({ sql: db.sql, listening: () => true, token: TOKEN });
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, app.fetch);
  const url = `http://127.0.0.1:${server.addr.port}`;
  try {
    const noToken = await saga({ ADMIN_URL: url }, "counts");
    assert.equal(noToken.code, 1);
    assert.equal(
      noToken.stderr.trim(),
      "401: unauthorized (set ADMIN_TOKEN to an operator's token)",
    );
    const wrong = await saga({ ADMIN_URL: url, ADMIN_TOKEN: "nope" }, "counts");
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /401: unauthorized \(ADMIN_TOKEN was refused/);

    const env = { ADMIN_URL: url, ADMIN_TOKEN: TOKEN };
    const unknown = crypto.randomUUID();
    const missing = await saga(env, "show", unknown);
    assert.equal(missing.code, 1);
    assert.equal(missing.stderr.trim(), `404: saga "${unknown}" not found`);
    const notUuid = await saga(env, "show", "abc");
    assert.equal(notUuid.code, 1);
    assert.match(notUuid.stderr, /^400: order_id must be a UUID/);
    assert.match((await saga(env, "redrive", "abc")).stderr, /^400: id must be an outbox event id/);
    assert.match(
      (await saga(env, "list", "--status", "nope")).stderr,
      /^400: status must be one of/,
    );

    const refused = await saga({ ADMIN_URL: `http://127.0.0.1:${await freePort()}` }, "counts");
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /refused the connection: is the orchestrator running/);
    // The task may only reach loopback: another host is refused before any connection.
    const elsewhere = await saga({ ADMIN_URL: "http://192.0.2.1:3004" }, "counts");
    assert.equal(elsewhere.code, 1);
    assert.match(
      elsewhere.stderr,
      /not in this task's network permission.*--allow-net=192\.0\.2\.1:3004/s,
    );

    for (
      const [args, message] of [
        [[], /no command given/],
        [["frobnicate"], /unknown command "frobnicate"/],
        [["show"], /show: expected one order_id/],
        [["retry"], /expected an order_id, several, or --state/],
        [["counts", "extra"], /counts: expected no operands/],
        [["list", "--bogus"], /Unknown option '--bogus'/],
      ] as const
    ) {
      const r = await saga(env, ...args);
      assert.equal(r.code, 2, args.join(" "));
      assert.match(r.stderr, message, args.join(" "));
      assert.match(r.stderr, /Usage: deno task saga/);
    }
    const badUrl = await saga({ ADMIN_URL: "ftp://x" }, "counts");
    assert.equal(badUrl.code, 2);
    assert.match(badUrl.stderr, /ADMIN_URL must be http/);
    const help = await saga({}, "--help");
    assert.equal(help.code, 0);
    assert.match(help.stdout, /^Usage: deno task saga <command>/);
  } finally {
    await server.shutdown();
    await db.drop();
  }
});
