// `deno task bench --quick` with small counts writes JSON with every figure
// present and finite. No wall-clock assertions: this machine's speed is not
// under test.
import assert from "node:assert/strict";

const ROOT = new URL("../", import.meta.url);

/** `deno run <flags> src/bench/main.ts`, taken from the bench task so the test uses its permissions. */
function benchArgs(): string[] {
  const deno = JSON.parse(Deno.readTextFileSync(new URL("deno.json", ROOT)));
  const task = deno.tasks.bench;
  const command: string = typeof task === "string" ? task : task.command;
  return command.split(/\s+/).slice(1);
}

/** Dotted paths of every figure the JSON must have. Spreads have median, min, max, runs. */
const SPREADS = [
  "results.throughput.oneInstance",
  "results.throughput.twoInstances",
  "results.stepsPerSecond.oneInstance",
  "results.stepsPerSecond.twoInstances",
  "results.wakeup.notify.p50Ms",
  "results.wakeup.notify.p99Ms",
  "results.wakeup.polling.p50Ms",
  "results.wakeup.polling.p99Ms",
  "results.endToEnd.notify.p50Ms",
  "results.endToEnd.notify.p99Ms",
  "results.endToEnd.polling.p50Ms",
  "results.endToEnd.polling.p99Ms",
  "results.cpu.oneInstance.orchestratorMsPerSaga",
  "results.cpu.oneInstance.servicesMsPerSaga",
  "results.cpu.oneInstance.postgresMsPerSaga",
  "results.cpu.oneInstance.machineBusy",
  "results.cpu.twoInstances.orchestratorMsPerSaga",
  "results.cpu.twoInstances.servicesMsPerSaga",
  "results.cpu.twoInstances.postgresMsPerSaga",
  "results.cpu.twoInstances.machineBusy",
  "results.groupCommit.oneInstance",
  "results.groupCommit.twoInstances",
  "results.cost.commitsPerSaga",
  "results.cost.writeCommitsPerSaga",
  "results.cost.rowsInsertedPerSaga",
  "results.cost.rowsUpdatedPerSaga",
  "results.ceiling.oneInstance.sagasPerSecond",
  "results.ceiling.oneInstance.commitsPerSecond",
  "results.ceiling.oneInstance.writeCommitsPerSaga",
  "results.ceiling.oneInstance.ratio",
  "results.ceiling.twoInstances.sagasPerSecond",
  "results.ceiling.twoInstances.commitsPerSecond",
  "results.ceiling.twoInstances.writeCommitsPerSaga",
  "results.ceiling.twoInstances.ratio",
  "results.ceiling.withoutGroupCommit.sagasPerSecond",
  "results.ceiling.withoutGroupCommit.writeCommitsPerSaga",
  "results.ceiling.withoutGroupCommit.ratio",
  "results.peer.unbatched.jobsPerSecond",
  "results.peer.batched.jobsPerSecond",
  "results.peer.ratioUnbatched",
  "results.peer.ratioBatched",
  "results.memory.rssMiB",
  "results.memory.peakMiB",
  "results.memory.idleRssMiB",
  "results.memory.secondsToWaiting",
  "results.producer.withoutOrchestrator.noTrigger.tps",
  "results.producer.withoutOrchestrator.alwaysNotify.tps",
  "results.producer.withoutOrchestrator.alwaysNotify.ratio",
  "results.producer.withoutOrchestrator.gatedDisarmed.tps",
  "results.producer.withoutOrchestrator.gatedDisarmed.ratio",
  "results.producer.withoutOrchestrator.gatedArmed.tps",
  "results.producer.withoutOrchestrator.gatedArmed.ratio",
  "results.producer.withOrchestrator.noTrigger.tps",
  "results.producer.withOrchestrator.noTrigger.notificationsPerEvent",
  "results.producer.withOrchestrator.alwaysNotify.tps",
  "results.producer.withOrchestrator.alwaysNotify.ratio",
  "results.producer.withOrchestrator.alwaysNotify.notificationsPerEvent",
  "results.producer.withOrchestrator.gated.tps",
  "results.producer.withOrchestrator.gated.ratio",
  "results.producer.withOrchestrator.gated.notificationsPerEvent",
];

const NUMBERS = [
  "machine.cores",
  "machine.memoryGiB",
  "results.ceiling.transitionsPerSaga",
  "results.ceiling.oneInstance.connections",
  "results.ceiling.oneInstance.transitionsPerStatement",
  "results.ceiling.twoInstances.transitionsPerStatement",
  "results.ceiling.twoInstances.connections",
  "results.peer.jobs",
  "results.peer.concurrency",
  "results.memory.sagas",
  "results.producer.clients",
  "results.producer.seconds",
];

const STRINGS = [
  "machine.cpuModel",
  "machine.postgres",
  "results.peer.version",
  "results.peer.node",
  "results.producer.client",
  "results.producer.statement",
];

function at(obj: unknown, path: string): unknown {
  return path.split(".").reduce<unknown>(
    (
      o,
      key,
    ) => (o !== null && typeof o === "object" ? (o as Record<string, unknown>)[key] : undefined),
    obj,
  );
}

function assertFinite(value: unknown, path: string) {
  assert.equal(typeof value, "number", `${path} is not a number: ${JSON.stringify(value)}`);
  assert.ok(Number.isFinite(value), `${path} is not finite: ${value}`);
}

/** Every number anywhere in `value` is finite. */
function walk(value: unknown, path: string) {
  if (typeof value === "number") assertFinite(value, path);
  else if (Array.isArray(value)) value.forEach((v, i) => walk(v, `${path}[${i}]`));
  else if (value !== null && typeof value === "object") {
    for (const [k, v] of Object.entries(value)) walk(v, path ? `${path}.${k}` : k);
  }
}

Deno.test("bench --quick writes JSON with every figure, all finite", async () => {
  const id = crypto.randomUUID().slice(0, 8);
  const dataDir = `.data/bench-test-${id}`;
  // Outside .data, in a folder that does not exist yet: --out takes any path.
  const outDir = await Deno.makeTempDir({ prefix: "bench-out-" });
  const out = `${outDir}/nested/results.json`;
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      ...benchArgs(),
      "--quick",
      "--orders",
      "60",
      "--warmup",
      "10",
      "--wake-orders",
      "10",
      "--memory-sagas",
      "100",
      "--peer-jobs",
      "300",
      "--producer-seconds",
      "1",
      "--data-dir",
      dataDir,
      "--out",
      out,
    ],
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  });
  try {
    const result = await child.output();
    const text = new TextDecoder().decode(result.stdout) + new TextDecoder().decode(result.stderr);
    assert.equal(result.code, 0, text);
    assert.match(text, /sagas\/s to COMPLETED, 1 instance/);
    assert.match(text, /producer: outbox inserts\/s, no trigger/);

    const json = JSON.parse(await Deno.readTextFile(out));
    assert.equal(json.mode, "quick");
    for (const path of SPREADS) {
      const s = at(json, path) as Record<string, unknown> | undefined;
      assert.ok(s && typeof s === "object", `${path} missing`);
      for (const key of ["median", "min", "max"]) assertFinite(s[key], `${path}.${key}`);
      assert.ok(Array.isArray(s.runs) && s.runs.length >= 1, `${path}.runs empty`);
    }
    for (const path of NUMBERS) assertFinite(at(json, path), path);
    // A happy saga is five transitions (four steps and the capture's write-ahead
    // attempt), each written once by some statement.
    assert.equal(json.results.ceiling.transitionsPerSaga, 5);
    assert.ok(json.results.groupCommit.oneInstance.median >= 1);
    // Without group commit the replay commits every transition on its own.
    assert.equal(json.results.ceiling.withoutGroupCommit.transitionsPerStatement, 1);
    assert.ok(json.results.ceiling.withoutGroupCommit.writeCommitsPerSaga.median >= 4);
    const cpu = json.results.cpu.oneInstance;
    for (const group of ["orchestratorMsPerSaga", "servicesMsPerSaga", "postgresMsPerSaga"]) {
      assert.ok(cpu[group].median > 0, `${group} is ${cpu[group].median}`);
    }
    assert.ok(cpu.machineBusy.median > 0 && cpu.machineBusy.median <= 1);
    // With the trigger disabled nothing notifies; always-notify does, and our listener hears it.
    const busy = json.results.producer.withOrchestrator;
    assert.equal(busy.noTrigger.notificationsPerEvent.median, 0);
    assert.ok(busy.alwaysNotify.notificationsPerEvent.median > 0);
    for (const path of STRINGS) {
      const v = at(json, path);
      assert.ok(typeof v === "string" && v.length > 0, `${path} missing`);
    }
    walk(json, "");
  } finally {
    await Deno.remove(new URL(dataDir, ROOT), { recursive: true }).catch(() => {});
    await Deno.remove(outDir, { recursive: true }).catch(() => {});
  }
});

/** Runs the bench with `--out out`; it must refuse at once: exit 2, the path named, nothing started. */
async function assertRefused(out: string) {
  const dataDir = `.data/bench-test-${crypto.randomUUID().slice(0, 8)}`;
  const result = await new Deno.Command(Deno.execPath(), {
    args: [...benchArgs(), "--quick", "--data-dir", dataDir, "--out", out],
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
    // Refusing takes a second; a bench that started measuring would take minutes.
    signal: AbortSignal.timeout(60_000),
  }).output();
  const stderr = new TextDecoder().decode(result.stderr);
  assert.equal(result.code, 2, stderr + new TextDecoder().decode(result.stdout));
  assert.ok(stderr.includes(out), `the message does not name ${out}: ${stderr}`);
  const started = await Deno.stat(new URL(dataDir, ROOT)).then(() => true, () => false);
  assert.equal(started, false, "the bench started before refusing --out");
}

Deno.test("bench refuses an --out it cannot write, before the first measurement", async () => {
  const dir = await Deno.makeTempDir({ prefix: "bench-out-" });
  try {
    // Under a regular file: no folder can be made there, whoever we are.
    await Deno.writeTextFile(`${dir}/a-file`, "");
    await assertRefused(`${dir}/a-file/results.json`);
    // A read-only folder stops everyone but root.
    if (Deno.uid() !== 0) {
      await Deno.mkdir(`${dir}/read-only`, { mode: 0o500 });
      await assertRefused(`${dir}/read-only/results.json`);
    }
  } finally {
    await Deno.chmod(`${dir}/read-only`, 0o700).catch(() => {});
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});
