// `runChaos`: the whole system under fire. An embedded PostgreSQL, the three
// reference services with injected faults, and several orchestrator instances,
// each its own process; a producer places orders while instances are killed
// with SIGKILL and restarted and PostgreSQL is restarted once. Then every saga
// must settle, and the ledger and the services' own records must satisfy the
// invariants (tooling/chaos/invariants.ts).
import {
  freshDatabase,
  ProcessGroup,
  RestartableDatabase,
  SERVICE_NAMES,
  startServices,
} from "../cluster/mod.ts";
import { fetchStats, setFaults } from "../reference_services/mod.ts";
import { ChaosInstances } from "./instances.ts";
import { checkInvariants, type Violation } from "./invariants.ts";
import { progress, readFinalState, type StuckSaga, stuckSagas } from "./ledger.ts";
import { unleash } from "./monkey.ts";
import type { ChaosOptions } from "./options.ts";
import { CHAOS_KINDS, chaosFaults, type ChaosKind, planChaosOrders } from "./plan.ts";
import { type ProducerStats, produceWithRetries } from "./producer.ts";
import type { ChaosSummary } from "./summary.ts";
import { pollUntil, sleep } from "./time.ts";

export async function runChaos(opts: ChaosOptions): Promise<ChaosSummary> {
  const log = opts.log ?? (() => {});
  const group = new ProcessGroup({ 3: 10_000, 2: 3000, 1: 15_000 });
  const logDir = `${opts.dataDir}/logs`;
  await Deno.remove(logDir, { recursive: true }).catch(() => {});
  await Deno.mkdir(logDir, { recursive: true });
  let sql: Awaited<ReturnType<typeof freshDatabase>>["sql"] | undefined;
  try {
    const db = await RestartableDatabase.start(group, { dataDir: `${opts.dataDir}/pg`, logDir });
    const fresh = await freshDatabase(db.server, "chaos", { max: 4 });
    sql = fresh.sql;
    const services = await startServices(group, { logDir });
    const plan = planChaosOrders(opts.orders, opts.seed);
    const faults = chaosFaults(plan, opts.seed);
    await Promise.all(SERVICE_NAMES.map((name) => setFaults(services.urls[name], faults[name])));
    const instances = new ChaosInstances(
      group,
      db,
      services.urls,
      fresh.url,
      logDir,
      opts.instances,
      log,
    );
    await instances.startAll();
    log(
      `PostgreSQL 127.0.0.1:${db.server.port}, ${opts.instances} instances, ` +
        `${opts.orders} orders at ${opts.rate}/s, seed ${opts.seed}; logs in ${logDir}/`,
    );

    const started = performance.now();
    const seconds = () => (performance.now() - started) / 1000;
    const producer: ProducerStats = { placed: 0, cancellations: 0, retriedInserts: 0 };
    let produced = false;
    const producing = produceWithRetries(fresh.sql, plan, { rate: opts.rate, stats: producer })
      .then(() => log(`all ${plan.length} orders placed after ${seconds().toFixed(1)} s`))
      .finally(() => produced = true);
    producing.catch(() => {});
    let chaosDone = false;
    const ticker = (async () => {
      while (!chaosDone) {
        await sleep(2000);
        const p = await progress(fresh.sql).catch(() => undefined);
        log(
          `placed ${producer.placed}/${opts.orders} · ` +
            (p
              ? Object.entries(p.byStatus).map(([k, v]) => `${k} ${v}`).join(" · ") +
                ` · outbox pending ${p.pending}`
              : "database unavailable") +
            ` · kills ${instances.kills} · db restarts ${db.restarts}`,
        );
      }
    })();
    await Promise.all([
      producing,
      unleash({
        opts,
        db,
        instances,
        halfway: () => producer.placed >= opts.orders / 2,
        producerDone: () => produced,
        log,
      }),
    ]);
    await instances.settled();
    const chaosEnded = performance.now();
    log(`chaos over after ${seconds().toFixed(1)} s: waiting for every saga to settle`);

    const settled = await pollUntil(async () => {
      const p = await progress(fresh.sql).catch(() => undefined);
      return p !== undefined && p.running === 0 && p.pending === 0 && p.rows >= plan.length;
    }, { timeoutMs: opts.settleTimeoutMs, intervalMs: 250 });
    chaosDone = true;
    await ticker;
    const durationSeconds = seconds();
    const settleSeconds = (performance.now() - chaosEnded) / 1000;
    const stuck: StuckSaga[] = settled ? [] : await stuckSagas(fresh.sql);

    // Stop the orchestrators first: no effect may happen after the records are read.
    await instances.stopAll();
    const final = await readFinalState(fresh.sql);
    const stats = await Promise.all(SERVICE_NAMES.map((name) => fetchStats(services.urls[name])));

    const violations: Violation[] = checkInvariants(
      plan.map((p) => p.order.order_id),
      final,
      stats,
    );
    for (const e of instances.unexpectedExits) {
      violations.push({
        invariant: 7,
        detail: `${e.id} exited by itself (code ${e.code}): ${e.log}`,
      });
    }
    for (const b of instances.badShutdowns) {
      violations.push({ invariant: 7, detail: `${b.id} exited ${b.code} on SIGTERM` });
    }

    const statusOf = new Map(final.ledger.map((r) => [r.order_id, r.status]));
    const outcomes: Record<string, number> = {};
    for (const r of final.ledger) outcomes[r.status] = (outcomes[r.status] ?? 0) + 1;
    const byKind = Object.fromEntries(CHAOS_KINDS.map((k) => [k, {}])) as ChaosSummary["byKind"];
    for (const p of plan) {
      const status = statusOf.get(p.order.order_id) ?? "missing";
      const row = byKind[p.kind as ChaosKind];
      row[status] = (row[status] ?? 0) + 1;
    }
    const effects: Record<string, number> = {};
    for (const s of stats) Object.assign(effects, s.totals);

    return {
      seed: opts.seed,
      orders: opts.orders,
      instances: opts.instances,
      durationSeconds,
      settleSeconds,
      settled,
      kills: instances.kills,
      restarts: instances.restarts,
      startRetries: instances.startRetries,
      dbRestarts: db.restarts,
      unexpectedExits: instances.unexpectedExits,
      producer,
      faultsInjected: Object.fromEntries(stats.map((s) => [s.service, s.faultsInjected])),
      idempotentReplays: Object.fromEntries(stats.map((s) => [s.service, s.idempotentReplays])),
      effects,
      outcomes,
      byKind,
      outbox: final.outbox,
      stuck,
      violationCount: violations.length,
      violations,
      logDir,
    };
  } finally {
    await sql?.end({ timeout: 2 }).catch(() => {});
    await group.stopAll();
  }
}
