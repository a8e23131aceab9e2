// Before/after for the orchestrator's own cost: two source trees (e.g. a
// `git worktree` of an older commit and this one) take turns on the same
// machine, so drift in a shared machine's speed falls on both alike; a
// before/after from two whole benchmark runs minutes apart does not.
//
// Per round and tree: a fresh database, one instance of that tree with its
// defaults, 500 warm-up orders, then --sagas orders inserted 100 to a
// statement; its CPU is read from /proc/<pid>/stat around them.
//
//   deno run -A tooling/bench/cpu_ab.ts --sagas 4000 --rounds 3 /tmp/before /work/main
//   (a tree may carry a log level and V8 flags: /work/main:info:--max-semi-space-size=32)
import { intOption, parseCommandLine } from "../../src/cli_args.ts";
import { freshDatabase, ProcessGroup, startInstance, waitReady } from "../cluster/mod.ts";
import { startBenchEnv } from "./cluster.ts";
import { batchRun } from "./batch_run.ts";
import { spread } from "./stats.ts";

const USAGE =
  `Usage: deno run -A tooling/bench/cpu_ab.ts [--sagas N] [--rounds N] TREE[:LOG_LEVEL[:V8_FLAGS]]...

Runs each tree's src/main.ts in turn, --rounds times (default 3), and prints its
orchestrator CPU per saga and sagas/s, median and min–max.`;

const { values, positionals } = parseCommandLine(Deno.args, {
  sagas: { type: "string" },
  rounds: { type: "string" },
}, USAGE);
const int = intOption(USAGE);
const sagas = int("sagas", values.sagas, 4000, 100);
const rounds = int("rounds", values.rounds, 3, 1);
if (positionals.length === 0) {
  console.error(USAGE);
  Deno.exit(2);
}
const group = new ProcessGroup({ 3: 12_000, 2: 3000, 1: 15_000 });
const env = await startBenchEnv(group, { dataDir: ".data/cpu-ab", logLevel: "warn" });
const results = new Map<string, { cpu: number[]; rate: number[] }>();
try {
  for (let round = 0; round < rounds; round++) {
    for (const [index, variant] of positionals.entries()) {
      const [tree, logLevel = "warn", v8Flags] = variant.split(":");
      const db = await freshDatabase(env.db, `cpu_ab_${round}_${index}`, { max: 4 });
      const instance = await startInstance(env.group, {
        id: `cpu-ab-${index}`,
        databaseUrl: db.url,
        services: env.services.urls,
        tree,
        // Deno reads V8 flags from DENO_V8_FLAGS as from --v8-flags.
        env: { LOG_LEVEL: logLevel, ...(v8Flags ? { DENO_V8_FLAGS: v8Flags } : {}) },
        logFile: `${env.logDir}/cpu-ab-${round}-${index}.log`,
      });
      const child = instance.child;
      await waitReady(instance, { listen: false });
      const batch = batchRun(db.sql, child.pid, sagas, 1000 * round + index);
      await batch.warmUp();
      const { sagasPerSecond: rate, cpuMsPerSaga: cpu } = await batch.measure();
      const r = results.get(variant) ?? { cpu: [], rate: [] };
      r.cpu.push(cpu);
      r.rate.push(rate);
      results.set(variant, r);
      console.log(
        `round ${round + 1} ${variant}: ${rate.toFixed(0)} sagas/s, ` +
          `${cpu.toFixed(3)} ms CPU per saga`,
      );
      await group.stop(child, "SIGTERM");
      await db.drop();
    }
  }
  for (const [variant, r] of results) {
    const cpu = spread(r.cpu);
    const rate = spread(r.rate);
    console.log(
      `${variant}: ${cpu.median.toFixed(3)} ms CPU per saga (${cpu.min.toFixed(3)}–` +
        `${cpu.max.toFixed(3)}), ${rate.median.toFixed(0)} sagas/s (${rate.min.toFixed(0)}–` +
        `${rate.max.toFixed(0)})`,
    );
  }
} finally {
  await group.stopAll();
}
