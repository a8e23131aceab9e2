// Profiles one orchestrator instance while it runs a batch of sagas, so a
// change to its cost starts from a measurement, not a guess. The set-up is
// cpu_ab.ts's: the benchmark's services, a fresh database, 500 warm-up
// orders, then --sagas orders inserted 100 to a statement.
//
//   deno run -A tooling/bench/profile.ts --cpu --heap --statements
//
// Everything it writes goes under --out (default .data/profile): the raw
// profiles, to open in Chrome DevTools, beside their summaries.
import { intOption, parseCommandLine } from "../../src/cli_args.ts";
import { createSql } from "../../src/db/client.ts";
import { freshDatabase, ProcessGroup, startInstance, waitReady } from "../cluster/mod.ts";
import { freePort } from "../cluster/ports.ts";
import { type BenchEnv, startBenchEnv } from "./cluster.ts";
import { batchRun } from "./batch_run.ts";
import { summariseCpu, summariseHeap } from "./profile_summary.ts";

const USAGE =
  `Usage: deno run -A tooling/bench/profile.ts [--sagas N] [--out DIR] [--cpu] [--heap] [--statements]

  --cpu         V8 CPU profile of the instance (deno --cpu-prof), written on exit
  --heap        sampling heap profile over the measured sagas (the inspector),
                collected objects included: what each saga allocates
  --statements  pg_stat_statements over the measured sagas: database time per
                saga by statement (loads the extension into this tool's own
                PostgreSQL, under --out, on first use)

With none of them it prints the orchestrator's CPU per saga, as cpu_ab.ts does;
with a profiler attached that figure includes the profiler's own cost.
Linux \`perf record -p <pid>\` beside it sees CPU the V8 profile cannot:
V8's GC threads, the kernel's share.`;

const { values } = parseCommandLine(Deno.args, {
  sagas: { type: "string" },
  out: { type: "string" },
  cpu: { type: "boolean" },
  heap: { type: "boolean" },
  statements: { type: "boolean" },
}, USAGE);
const sagas = intOption(USAGE)("sagas", values.sagas, 6000, 100);
const out = values.out ?? ".data/profile";
const INSPECTOR_PORT = values.heap ? await freePort() : 0;

await Deno.mkdir(out, { recursive: true });
let group = new ProcessGroup({ 3: 12_000, 2: 3000, 1: 15_000 });
let env = await startBenchEnv(group, { dataDir: `${out}/env`, logLevel: "warn" });
try {
  if (values.statements && !await loadStatements(env)) {
    // The library loads only at server start: it is set now, for good; restart.
    await group.stopAll();
    group = new ProcessGroup({ 3: 12_000, 2: 3000, 1: 15_000 });
    env = await startBenchEnv(group, { dataDir: `${out}/env`, logLevel: "warn" });
  }
  const db = await freshDatabase(env.db, "profile", { max: 4 });
  if (values.cpu) await Deno.mkdir(`${out}/cpu`, { recursive: true });
  const runFlags = [
    ...(values.cpu ? ["--cpu-prof", `--cpu-prof-dir=${out}/cpu`] : []),
    ...(values.heap ? [`--inspect=127.0.0.1:${INSPECTOR_PORT}`] : []),
  ];
  const instance = await startInstance(group, {
    id: "profile",
    databaseUrl: db.url,
    services: env.services.urls,
    env: { LOG_LEVEL: "warn" },
    runFlags,
    logFile: `${env.logDir}/profile.log`,
  });
  await waitReady(instance, { listen: false });
  const batch = batchRun(db.sql, instance.child.pid, sagas, 7);
  await batch.warmUp();

  const inspector = values.heap ? await connectInspector(INSPECTOR_PORT) : undefined;
  if (values.statements) {
    await db.sql`CREATE EXTENSION IF NOT EXISTS pg_stat_statements`;
    await db.sql`SELECT pg_stat_statements_reset()`;
  }
  await inspector?.call("HeapProfiler.enable");
  await inspector?.call("HeapProfiler.startSampling", {
    samplingInterval: 8192,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: true,
  });
  const { sagasPerSecond, cpuMsPerSaga } = await batch.measure({ everyMs: 250 });
  const report = [
    `${sagas} sagas: ${sagasPerSecond.toFixed(0)} sagas/s, ` +
    `orchestrator CPU ${cpuMsPerSaga.toFixed(3)} ms per saga`,
  ];

  if (inspector) {
    const { profile } = await inspector.call("HeapProfiler.stopSampling") as { profile: never };
    await Deno.writeTextFile(`${out}/heap.heapprofile`, JSON.stringify(profile));
    report.push("", ...summariseHeap((profile as { head: never }).head, sagas));
    inspector.close();
  }
  if (values.statements) {
    const rows = await db.sql<{ us: number; calls: number; rows: number; query: string }[]>`
      SELECT total_exec_time * 1000 / ${sagas} AS us, calls, rows,
        left(regexp_replace(query, '\\s+', ' ', 'g'), 100) AS query
      FROM pg_stat_statements ORDER BY total_exec_time DESC LIMIT 12`;
    report.push("", "Database time per saga (pg_stat_statements; wall time in the executor):");
    for (const r of rows) {
      report.push(
        `${Number(r.us).toFixed(1).padStart(7)} µs  ${String(r.calls).padStart(6)} calls  ` +
          `${String(r.rows).padStart(7)} rows  ${r.query}`,
      );
    }
  }
  // The CPU profile is written as the process exits.
  await group.stop(instance.child, "SIGTERM");
  await db.drop();
  if (values.cpu) {
    for await (const f of Deno.readDir(`${out}/cpu`)) {
      if (!f.name.endsWith(".cpuprofile")) continue;
      const profile = JSON.parse(await Deno.readTextFile(`${out}/cpu/${f.name}`));
      report.push("", `${out}/cpu/${f.name}:`, ...summariseCpu(profile));
      await Deno.rename(`${out}/cpu/${f.name}`, `${out}/instance.cpuprofile`);
    }
  }
  await Deno.writeTextFile(`${out}/summary.txt`, report.join("\n") + "\n");
  console.log(report.join("\n"));
  console.log(`\n(also in ${out}/summary.txt)`);
} finally {
  await group.stopAll();
}

/** True when pg_stat_statements is loaded; otherwise sets it to load at the next start. */
async function loadStatements(env: BenchEnv): Promise<boolean> {
  const admin = createSql(env.db.adminUrl, { max: 1 });
  try {
    const [row] = await admin<{ libs: string }[]>`
      SELECT current_setting('shared_preload_libraries') AS libs`;
    if (row!.libs.includes("pg_stat_statements")) return true;
    await admin`ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'`;
    return false;
  } finally {
    await admin.end({ timeout: 2 });
  }
}

/** A Chrome DevTools Protocol session with the instance (its --inspect port). */
async function connectInspector(port: number) {
  const [target] = await (await fetch(`http://127.0.0.1:${port}/json/list`)).json();
  const ws = new WebSocket(target.webSocketDebuggerUrl);
  await new Promise((resolve, reject) => {
    ws.onopen = resolve;
    ws.onerror = reject;
  });
  let next = 0;
  const waiting = new Map<number, (result: unknown) => void>();
  ws.onmessage = (e) => {
    const message = JSON.parse(e.data);
    waiting.get(message.id)?.(message.result);
    waiting.delete(message.id);
  };
  return {
    call(method: string, params?: unknown): Promise<unknown> {
      const id = ++next;
      ws.send(JSON.stringify({ id, method, params }));
      return new Promise((resolve) => waiting.set(id, resolve));
    },
    close: () => ws.close(),
  };
}
