// The benchmark's queue floor: graphile-worker's throughput for no-op jobs on
// the same PostgreSQL. Runs under the benchmark's Node, with graphile-worker
// installed into .data/bench by the benchmark, never a dependency of the
// orchestrator.
//
// Life cycle: migrate, start the worker, run WARMUP jobs to completion
// (untimed, as the orchestrator's warm-up orders are), print
// {"ready":true,…}; on a "go" line on stdin, add JOBS jobs in one call and
// time from the moment that call starts (the producer's cost inside the
// window, as for every engine) until the last job is complete; print the
// result as one JSON line, stop and exit.
//
// env: PEER_DIR (where graphile-worker is installed), DATABASE_URL, JOBS,
//      CONCURRENCY, BATCHED ("true": local queue + batched completion), WARMUP
"use strict";
const { createRequire } = require("node:module");
const fs = require("node:fs");
const path = require("node:path");
const readline = require("node:readline");

const peer = createRequire(path.join(process.env.PEER_DIR, "package.json"));
const { run, makeWorkerUtils, Logger } = peer("graphile-worker");

const quiet = new Logger(() => (level, message) => {
  if (level === "error") console.error(message);
});

async function main() {
  const connectionString = process.env.DATABASE_URL;
  const jobs = Number(process.env.JOBS);
  const concurrency = Number(process.env.CONCURRENCY);
  const batched = process.env.BATCHED === "true";
  const warmup = Number(process.env.WARMUP ?? 0);

  const utils = await makeWorkerUtils({ connectionString, logger: quiet });
  await utils.migrate();

  let completed = 0;
  let target = 0;
  let reached = () => {};
  const runner = await run({
    connectionString,
    concurrency,
    maxPoolSize: concurrency + 2,
    noHandleSignals: true,
    pollInterval: 1000,
    logger: quiet,
    taskList: { noop: async () => {} },
    preset: batched
      ? {
        worker: {
          localQueue: { size: 500 },
          completeJobBatchDelay: 0,
          failJobBatchDelay: 0,
        },
      }
      : undefined,
  });
  runner.events.on("job:complete", () => {
    if (++completed === target) reached();
  });

  // Completions may be batched: a batch is done once the jobs table is empty.
  async function runBatch(count, offset) {
    const done = new Promise((resolve) => reached = resolve);
    target = completed + count;
    const specs = Array.from({ length: count }, (_, i) => ({
      identifier: "noop",
      payload: { i: offset + i },
    }));
    // Every job in one call (one transaction), like our orders; the clock starts before it.
    const started = performance.now();
    await utils.addJobs(specs);
    await done;
    for (;;) {
      const { rows } = await utils.withPgClient((client) =>
        client.query("SELECT count(*)::int AS n FROM graphile_worker.jobs")
      );
      if (rows[0].n === 0) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    return started;
  }

  if (warmup > 0) await runBatch(warmup, 0);
  console.log(JSON.stringify({ ready: true }));
  await goSignal();
  const started = await runBatch(jobs, warmup);
  const seconds = (performance.now() - started) / 1000;
  // The result first: the benchmark reads the CPU counters when it sees it.
  console.log(JSON.stringify({
    jobs,
    concurrency,
    batched,
    seconds,
    jobsPerSecond: jobs / seconds,
    node: process.version,
    version: JSON.parse(
      fs.readFileSync(
        path.join(process.env.PEER_DIR, "node_modules", "graphile-worker", "package.json"),
        "utf8",
      ),
    ).version,
  }));
  await runner.stop();
  await utils.release();
}

/** Resolves at the first "go" line on stdin: the benchmark has read the CPU counters. */
function goSignal() {
  const lines = readline.createInterface({ input: process.stdin });
  return new Promise((resolve) => {
    lines.on("line", (line) => {
      if (line.trim() !== "go") return;
      lines.close();
      // Nothing more to read: an open stdin would keep the process alive.
      process.stdin.destroy();
      resolve();
    });
  });
}

main().catch((err) => {
  console.error(err && err.stack ? err.stack : String(err));
  process.exit(1);
});
