// `deno task demo`: the whole system on one machine. An embedded PostgreSQL,
// the three reference services and N orchestrator instances, each its own
// process; a producer writes a stream of sample orders (happy, out of stock,
// declined, flaky, cancelled) into the outbox; a live status line; and a
// summary that checks every effect against the services' own counters.
//
//   deno task demo [--orders 200] [--instances 2] [--rate 20] [--seed N] [--data-dir .data/demo]
//
// Ctrl-C (or SIGTERM/SIGHUP) stops the producer, prints the summary and stops
// every process it started (orchestrators, then services, then the database);
// a second Ctrl-C kills them at once. Should this process itself be killed,
// the database helper, which is told every child's pid, stops the rest.
import { parseDemoArgs } from "./args.ts";
import { setFaults } from "../reference_services/mod.ts";
import {
  freshDatabase,
  type Instance,
  ProcessGroup,
  SERVICE_NAMES,
  startDatabaseServer,
  startInstance,
  startServices,
  waitReady,
} from "../cluster/mod.ts";
import { faultsFor, planOrders } from "./plan.ts";
import { produce } from "./producer.ts";
import { ProgressLine, RateMeter } from "../cluster/progress.ts";
import { type Counts, counts, formatCounts, outcomes } from "./status.ts";
import { renderSummary } from "./summary.ts";
import { verifyEffects } from "./verify.ts";
import { fmt } from "../../src/tools/text_table.ts";
import { complain, say } from "../../src/cli_output.ts";

class Interrupted extends Error {}

async function main(): Promise<number> {
  const args = parseDemoArgs();
  const progress = new ProgressLine();
  const group = new ProcessGroup({ 3: 10_000, 2: 3000, 1: 15_000 });
  const abort = new AbortController();
  let signals = 0;
  const onSignal = (signal: Deno.Signal) => () => {
    if (++signals === 1) {
      progress.log(`${signal}: stopping (again to kill everything at once)…`);
      abort.abort();
    } else {
      progress.log("Killing every process now");
      group.killAll();
    }
  };
  for (const s of ["SIGINT", "SIGTERM", "SIGHUP"] as const) Deno.addSignalListener(s, onSignal(s));

  /** Rejects as soon as we are interrupted, so start-up never blocks a Ctrl-C. */
  const guard = <T>(p: Promise<T>): Promise<T> => {
    p.catch(() => {});
    return Promise.race([
      p,
      new Promise<never>((_, reject) => {
        if (abort.signal.aborted) reject(new Interrupted());
        abort.signal.addEventListener("abort", () => reject(new Interrupted()), { once: true });
      }),
    ]);
  };

  const logs = `${args.dataDir}/logs`;
  await Deno.mkdir(logs, { recursive: true });
  let sql: Awaited<ReturnType<typeof freshDatabase>>["sql"] | undefined;
  let code = 0;
  try {
    say(
      `Order saga demo: ${args.orders} orders at ${args.rate || "max"}/s, ` +
        `${args.instances} orchestrator instance(s), seed ${args.seed}`,
    );
    const db = await guard(
      startDatabaseServer(group, {
        dataDir: `${args.dataDir}/pg`,
        logFile: `${logs}/postgres.log`,
      }),
    );
    say(`  PostgreSQL     embedded, 127.0.0.1:${db.port}, data in ${args.dataDir}/pg`);
    const fresh = await guard(freshDatabase(db, "demo"));
    sql = fresh.sql;

    const services = await guard(startServices(group, { logDir: logs }));
    const plan = planOrders(args.orders, args.seed);
    const faults = faultsFor(plan);
    await guard(
      Promise.all(SERVICE_NAMES.map((name) => setFaults(services.urls[name], faults[name]))),
    );
    for (const name of SERVICE_NAMES) {
      say(`  ${name.padEnd(14)} ${services.urls[name]}`);
    }

    const instances: Instance[] = [];
    for (let i = 1; i <= args.instances; i++) {
      instances.push(
        await guard(startInstance(group, {
          id: `demo-${i}`,
          databaseUrl: fresh.url,
          services: services.urls,
          env: { SHUTDOWN_GRACE_MS: "5000" },
          logFile: `${logs}/orchestrator-${i}.log`,
        })),
      );
    }
    await guard(Promise.all(instances.map((inst) => waitReady(inst, { listen: true }))));
    say(`  orchestrators  ${instances.map((i) => i.id).join(", ")}`);
    say(`  admin API      ${instances[0]!.adminUrl}/  (first instance)`);
    say(
      `  processes      ${
        group.children.map((c) => `${c.name} ${c.pid}`).join(", ")
      }, postmaster ${db.postmasterPid}`,
    );
    say(`  logs           ${logs}/`);
    say("");

    // Produce, and watch.
    const started = performance.now();
    let placed = 0;
    let produced = false;
    const producer = produce(fresh.sql, plan, {
      rate: args.rate,
      signal: abort.signal,
      onPlaced: (n) => placed = n,
    }).finally(() => produced = true);
    producer.catch(() => {});
    const meter = new RateMeter();
    let last: Counts | undefined;
    const seconds = () => (performance.now() - started) / 1000;
    const show = (c: Counts, force = false) => {
      const rate = meter.add(c.terminal);
      progress.update(
        `[${fmt(seconds()).padStart(6)} s] placed ${placed}/${args.orders} · ${formatCounts(c)}` +
          ` · ${fmt(rate)} sagas/s · in flight ${c.byStatus.RUNNING}` +
          (c.outboxPending ? ` · outbox ${c.outboxPending}` : ""),
        force,
      );
    };
    while (!abort.signal.aborted) {
      await new Promise((r) => setTimeout(r, progress.tty ? 250 : 1000));
      try {
        last = await counts(fresh.sql);
      } catch (err) {
        if (abort.signal.aborted) break;
        throw err;
      }
      show(last);
      if (produced && last.terminal >= placed && last.outboxPending === 0) break;
    }
    await producer.catch((err) => {
      if (!abort.signal.aborted) throw err;
    });
    const elapsed = seconds();

    // Summary, while every process still runs.
    const finalCounts = await counts(fresh.sql).catch(() => last);
    if (finalCounts) show(finalCounts, true);
    progress.done();
    const statuses = await outcomes(fresh.sql).catch(() => new Map<string, string>());
    let effectsError: string | undefined;
    const effects = await verifyEffects(services.urls, statuses).catch((err) => {
      effectsError = String(err);
      return undefined;
    });
    say(renderSummary({
      interrupted: abort.signal.aborted,
      planned: args.orders,
      placed,
      plan,
      counts: finalCounts ?? { byStatus: {}, terminal: 0, outboxPending: 0 },
      statuses,
      seconds: elapsed,
      effects,
      effectsError,
    }));
    if (effects && (effects.duplicates > 0 || effects.mismatchCount > 0)) code = 1;
    if (abort.signal.aborted) code = 130;
  } catch (err) {
    progress.done();
    if (err instanceof Interrupted || abort.signal.aborted) {
      say("Interrupted during start-up");
      code = 130;
    } else {
      complain(`Demo failed: ${err instanceof Error ? err.message : String(err)}`);
      code = 1;
    }
  } finally {
    await sql?.end({ timeout: 2 }).catch(() => {});
    say("Stopping orchestrators, services and PostgreSQL…");
    await group.stopAll();
    say("All processes stopped.");
  }
  return code;
}

Deno.exit(await main());
