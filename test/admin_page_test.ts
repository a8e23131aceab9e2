// The admin page in a real headless Chromium (Debian's `chromium`, driven by
// playwright-core) against the real admin API, with real sagas run by an
// in-process orchestrator on the sandbox services: one COMPLETED, one
// CANCELLED (declined capture) and one parked NEEDS_ATTENTION (its
// confirmation keeps failing). The API requires a token, so the page must ask
// for it first. A second test drives the operator's day-two actions: a dead
// letter redriven, "Retry all parked", counts equal to the database's.
// Saves screenshots in test-artifacts/.
import assert from "node:assert/strict";
import fs from "node:fs";
import { Hono } from "hono";
import { createAdminApp } from "../src/admin/app.ts";
import { mountAdminPage } from "../src/admin/page/mod.ts";
import { startSandbox } from "../tooling/reference_services/mod.ts";
import { startInProcess } from "./helpers/inprocess.ts";
import { ledger, placeOrder, sampleOrder, waitFor, waitForStatus } from "./helpers/orders.ts";
import type { Sql } from "../src/db/client.ts";
import type { Page } from "playwright-core";
import { freshDatabase } from "../tooling/cluster/mod.ts";

const CHROMIUM = "/usr/bin/chromium";
const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
];
const TOKEN = "page-test-token";

const haveChromium = await Deno.stat(CHROMIUM).then(() => true, () => false);

// playwright-core probes /proc/sys/fs/binfmt_misc/WSLInterop while it loads.
// Node answers "no"; Deno throws NotCapable unless the test runs with
// --allow-all. While importing it, and only then, "not permitted" means "no".
const existsSync = fs.existsSync;
fs.existsSync = (path) => {
  try {
    return existsSync(path);
  } catch {
    return false;
  }
};
const { chromium } = await import("playwright-core").finally(() => fs.existsSync = existsSync);

Deno.test("the admin page shows counts, a saga's statechart with its state marked, and retries it", async () => {
  // Not skipped when missing: .ci/run installs Debian's chromium.
  assert.ok(haveChromium, `${CHROMIUM} is missing: apt-get install -y chromium`);
  const db = await freshDatabase();
  const sandbox = await startSandbox();
  const orch = startInProcess(db, sandbox.urls, { CONFIRM_MAX_ATTEMPTS: "2" });
  // The page is mounted ahead of the API (and its token check), as in production.
  const app = new Hono();
  mountAdminPage(app);
  app.route("/", createAdminApp({ sql: db.sql, listening: orch.listening, token: TOKEN }));
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, app.fetch);
  const base = `http://127.0.0.1:${server.addr.port}/`;
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  try {
    const done = sampleOrder();
    const parked = sampleOrder();
    const declined = sampleOrder({ payment_authorization_id: "decline-page-test" });
    sandbox.orders.setFaults({
      rules: [{ method: "POST", path: "/confirmation", orderId: parked.order_id }],
    });
    for (const o of [done, parked, declined]) await placeOrder(db.sql, o);
    await waitForStatus(db.sql, done.order_id, ["COMPLETED"]);
    await waitForStatus(db.sql, declined.order_id, ["CANCELLED"]);
    const parkedRow = await waitForStatus(db.sql, parked.order_id, ["NEEDS_ATTENTION"]);

    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const problems: string[] = [];
    page.on("pageerror", (err) => problems.push(String(err)));
    page.on("console", (m) => {
      // The 401s before the token is given are expected; Chromium logs each one.
      if (m.type() === "error" && !m.text().includes("401 (Unauthorized)")) problems.push(m.text());
    });
    page.on("request", (r) => {
      if (!r.url().startsWith(base)) problems.push(`request off the orchestrator: ${r.url()}`);
    });

    await page.goto(base);
    // 401 from the API: the page asks for the token once, then uses it.
    await page.locator("#token-dialog").waitFor({ state: "visible" });
    await page.fill("#token-input", TOKEN);
    await page.click("#token-dialog button[type=submit]");

    const count = (status: string) => page.locator(`[data-count="${status}"]`);
    await waitForText(() => count("COMPLETED").textContent(), "1");
    await waitForText(() => count("NEEDS_ATTENTION").textContent(), "1");
    await waitForText(() => count("CANCELLED").textContent(), "1");
    assert.equal(await count("RUNNING").textContent(), "0");
    await page.locator(`#sagas tr[data-order-id="${done.order_id}"]`).waitFor();
    assert.equal(await page.locator("#sagas tbody tr").count(), 3);
    await Deno.mkdir("test-artifacts", { recursive: true });
    await page.screenshot({ path: "test-artifacts/admin-page-list.png" });

    // Open the completed saga from the list: its final state is the marked one.
    await page.click(`#sagas tr[data-order-id="${done.order_id}"] a`);
    const marked = page.locator('#chart [aria-current="true"]');
    await waitForText(() => marked.textContent(), (await ledger(db.sql, done.order_id))!.state);
    assert.equal(await page.locator("#chart .edge.taken").count(), 4, "the happy path is drawn");
    assert.equal(await page.locator("#retry").isDisabled(), true);

    // The parked one, by URL.
    await page.goto(`${base}#/sagas/${parked.order_id}`);
    await waitForText(() => marked.textContent(), parkedRow.state);
    assert.equal(parkedRow.state, "needsAttention");
    assert.equal(await page.locator('#chart [data-state="needsAttention"]').count(), 1);
    assert.ok((await page.locator("#history tbody tr").count()) >= 6, "history is listed");
    await page.locator("#history").getByText("confirmOrder:transient").first().waitFor();

    await page.click("#retry");
    await waitForText(
      async () => (await page.locator("#action-result").textContent())?.split("\n")[0] ?? "",
      "POST retry → 202",
    );
    // The saga resumes, fails its confirmation again and parks again: the page follows.
    await waitForStatus(db.sql, parked.order_id, ["NEEDS_ATTENTION"]);
    await page.locator("#history").getByText("RETRY", { exact: true }).waitFor();
    await waitForText(() => count("NEEDS_ATTENTION").textContent(), "1");
    await waitForText(() => marked.textContent(), "needsAttention");

    await page.screenshot({ path: "test-artifacts/admin-page.png", fullPage: true });
    assert.deepEqual(problems, []);
  } finally {
    await browser.close();
    await server.shutdown();
    await orch.stop();
    await sandbox.close();
    await db.drop();
  }
});

Deno.test("the admin page shows dead letters and redrives one, retries all parked sagas, and counts as the database does", async () => {
  assert.ok(haveChromium, `${CHROMIUM} is missing: apt-get install -y chromium`);
  const db = await freshDatabase();
  const sandbox = await startSandbox();
  let orch = startInProcess(db, sandbox.urls, { CONFIRM_MAX_ATTEMPTS: "2" });
  const app = new Hono();
  mountAdminPage(app);
  app.route("/", createAdminApp({ sql: db.sql, listening: orch.listening, token: TOKEN }));
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, app.fetch);
  const base = `http://127.0.0.1:${server.addr.port}/`;
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  try {
    const bad = sampleOrder();
    const parked = [sampleOrder(), sampleOrder()];
    const done = sampleOrder();
    sandbox.orders.setFaults({
      rules: parked.map((o) => ({ method: "POST", path: "/confirmation", orderId: o.order_id })),
    });
    await placeOrder(db.sql, { ...bad, total_cents: bad.total_cents + 1 });
    for (const o of [...parked, done]) await placeOrder(db.sql, o);
    await waitForStatus(db.sql, done.order_id, ["COMPLETED"]);
    for (const o of parked) await waitForStatus(db.sql, o.order_id, ["NEEDS_ATTENTION"]);
    const dead = await waitFor(async () => {
      const [row] = await db.sql<{ id: string; status: string; last_error: string }[]>`
        SELECT id, status, last_error FROM outbox WHERE order_id = ${bad.order_id}`;
      return row?.status === "DEAD" ? row : undefined;
    }, { what: "the bad event to be dead-lettered" });
    // Nothing runs while the page redrives, so the event stays PENDING for us to see.
    await orch.stop();

    const page = await browser.newPage({ viewport: { width: 1280, height: 1100 } });
    const problems: string[] = [];
    page.on("pageerror", (err) => problems.push(String(err)));
    page.on("console", (m) => {
      if (m.type() === "error" && !m.text().includes("401 (Unauthorized)")) problems.push(m.text());
    });
    await page.goto(base);
    await page.locator("#token-dialog").waitFor({ state: "visible" });
    await page.fill("#token-input", TOKEN);
    await page.click("#token-dialog button[type=submit]");
    await countsMatchDatabase(page, db.sql);

    // The dead letter, with its reason.
    const row = page.locator(`#dead-letters tr[data-event-id="${dead.id}"]`);
    await row.waitFor();
    assert.equal(await row.locator("td.reason").textContent(), dead.last_error);
    assert.match(dead.last_error, /total_cents \d+ does not equal the sum of the lines/);
    await page.screenshot({ path: "test-artifacts/admin-page-dead-letters.png", fullPage: true });

    await row.getByRole("button", { name: "Redrive" }).click();
    await waitForText(
      async () => (await page.locator("#dead-result").textContent())?.split("\n")[0] ?? "",
      `POST outbox/${dead.id}/redrive → 202`,
    );
    const [redriven] = await db.sql<{ status: string; attempts: number }[]>`
      SELECT status, attempts FROM outbox WHERE id = ${dead.id}`;
    assert.deepEqual(redriven, { status: "PENDING", attempts: 0 });
    await page.locator("#dead-letters").getByText("No dead letters.").waitFor();

    // Its payload fixed, an orchestrator applies it: the order completes.
    await db.sql`UPDATE outbox SET payload = ${db.sql.json(bad as never)} WHERE id = ${dead.id}`;
    orch = startInProcess(db, sandbox.urls, { CONFIRM_MAX_ATTEMPTS: "2" });
    await waitForStatus(db.sql, bad.order_id, ["COMPLETED"]);

    // Retry all parked, the cause fixed first.
    sandbox.orders.setFaults({});
    await countsMatchDatabase(page, db.sql);
    const asked: string[] = [];
    page.once("dialog", (d) => {
      asked.push(d.message());
      d.accept();
    });
    await page.click("#retry-parked");
    await waitForText(
      async () => (await page.locator("#bulk-result").textContent())?.split("\n")[0] ?? "",
      "POST sagas/retry → 202",
    );
    assert.deepEqual(asked, ["Retry 2 parked sagas?"]);
    assert.match((await page.locator("#bulk-result").textContent())!, /"retried": 2/);
    for (const o of parked) await waitForStatus(db.sql, o.order_id, ["COMPLETED"]);
    await countsMatchDatabase(page, db.sql);
    assert.equal(await page.locator('[data-count="COMPLETED"]').textContent(), "4");
    assert.equal(await page.locator("#retry-parked").isDisabled(), true, "nothing parked");
    await page.screenshot({ path: "test-artifacts/admin-page-operations.png", fullPage: true });
    assert.deepEqual(problems, []);
  } finally {
    await browser.close();
    await server.shutdown();
    await orch.stop();
    await sandbox.close();
    await db.drop();
  }
});

/** The four counts the page shows equal count(*) by status (the page refreshes every 5 s). */
async function countsMatchDatabase(page: Page, sql: Sql) {
  const statuses = ["RUNNING", "COMPLETED", "CANCELLED", "NEEDS_ATTENTION"];
  let shown: Record<string, string> = {};
  let counted: Record<string, string> = {};
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    await page.click("#refresh");
    const rows = await sql<{ status: string; n: number }[]>`
      SELECT status, count(*)::int AS n FROM order_ledger GROUP BY status`;
    counted = Object.fromEntries(
      statuses.map((s) => [s, String(rows.find((r) => r.status === s)?.n ?? 0)]),
    );
    await new Promise((r) => setTimeout(r, 200));
    shown = Object.fromEntries(
      await Promise.all(
        statuses.map(async (s) => [s, (await page.locator(`[data-count="${s}"]`).textContent())!]),
      ),
    );
    if (JSON.stringify(shown) === JSON.stringify(counted)) return;
  }
  assert.deepEqual(shown, counted);
}

/** Polls until `read()` gives `want` (the page loads asynchronously). */
async function waitForText(read: () => Promise<string | null>, want: string, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  let got: string | null = null;
  while (Date.now() < deadline) {
    got = (await read())?.trim() ?? null;
    if (got === want) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.equal(got, want);
}
