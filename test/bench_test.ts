// `deno task bench --quick` with small counts writes JSON with every figure
// present and finite. No wall-clock assertions: this machine's speed is not
// under test. The peers are skipped in the quick run (their first run installs
// them with npm); BENCH_TEST_PEERS=1 adds a run with --peers.
import assert from "node:assert/strict";
import { callStep } from "../src/services/http_client.ts";
import { validateEvent } from "../src/engine/validate.ts";
import { orderSaga } from "../machines/order_definition.ts";
import type { SagaInput } from "../machines/order_saga.ts";
import { happyOrders } from "../tooling/bench/orders.ts";
import sagaSteps from "../tooling/bench/peer/saga_steps.cjs";
import { FORWARD_STEPS } from "../machines/order_types.ts";
import { type BenchResults, measured, type Skipped } from "../tooling/bench/report.ts";

const ROOT = new URL("../", import.meta.url);

/** `deno run <flags> tooling/bench/main.ts`, taken from the bench task so the test uses its permissions. */
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
  "results.throughput.handOverSeconds.oneInstance",
  "results.throughput.handOverSeconds.twoInstances",
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
  ...[0, 1].flatMap((i) => latencyUnderLoad(`results.loadLatency.${i}`)),
  ...["empty", "retained", "sweeping"].flatMap((c) => historyCase(`results.history.cases.${c}`)),
];

/** The struggling service's and the overload's spreads. */
const RESILIENCE_SPREADS = [
  ...["healthy", "slow", "recovered"].flatMap((w) =>
    ["sagasPerSecond", "callsPerSaga", "endToEndP50Ms"].map((k) => `results.slowService.${w}.${k}`)
  ),
  ...["committedPerSecond", "callsPerSaga", "callsPerSagaRatio", "recoverySeconds"].map((k) =>
    `results.slowService.${k}`
  ),
  ...[
    "committedPerSecond",
    "producerMaxLagMs",
    "achievedPerSecond",
    "backlogPeak",
    "backlogAtStop",
    "drainPerSecond",
    "drainRatio",
    "orchestratorMsPerSaga",
    "postgresMsPerSaga",
    "cpuRatio",
  ].map((k) => `results.overload.${k}`),
];

/** The spreads of one latency-under-load figure (ours or a peer's). */
function latencyUnderLoad(at: string): string[] {
  return [
    "committedPerSecond",
    "producerMaxLagMs",
    ...["endToEnd", "wakeup"].flatMap((k) => ["p50Ms", "p99Ms", "maxMs"].map((p) => `${k}.${p}`)),
  ].map((k) => `${at}.${k}`);
}

function historyCase(at: string): string[] {
  return [
    "sagasPerSecond",
    "ratioToEmpty",
    "orchestratorMsPerSaga",
    "postgresMsPerSaga",
    "servicesMsPerSaga",
    "sweptSagas",
    "claimCycle.samples",
    "claimCycle.p50Ms",
    "claimCycle.p99Ms",
    "claimCycle.maxMs",
  ].map((k) => `${at}.${k}`);
}

/** The spreads of one saga engine beside ours. */
function sagaEngine(at: string, groups: string[]): string[] {
  return [
    "sagasPerSecond",
    "handOverSeconds",
    "cpuTotalMsPerSaga",
    "ourThroughputRatio",
    "oursBesideSagasPerSecond",
    "ourThroughputRatioBeside",
    "cpuRatioToOurs",
    ...groups.map((g) => `cpuMsPerSaga.${g}`),
  ].map((k) => `${at}.${k}`);
}

/** Every peer figure, when the peers ran. */
const PEER_SPREADS = [
  "results.peers.graphileWorker.unbatched.jobsPerSecond",
  "results.peers.graphileWorker.unbatched.cpuMsPerJob.engine",
  "results.peers.graphileWorker.unbatched.cpuMsPerJob.postgres",
  "results.peers.graphileWorker.batched.jobsPerSecond",
  "results.peers.graphileWorker.ratioUnbatched",
  "results.peers.graphileWorker.ratioBatched",
  ...sagaEngine("results.peers.dbos.direct", ["engine", "postgres", "services"]),
  ...sagaEngine("results.peers.dbos.queue", ["engine", "postgres", "services"]),
  ...sagaEngine("results.peers.restate.workflow", ["engine", "endpoint", "postgres", "services"]),
  ...sagaEngine("results.peers.restate.machine", ["engine", "endpoint", "postgres", "services"]),
  ...[0, 1].flatMap((i) => latencyUnderLoad(`results.peers.restate.loadLatency.${i}`)),
];
const PEER_STRINGS = [
  "results.peers.graphileWorker.version",
  "results.peers.dbos.version",
  "results.peers.dbos.node",
  "results.peers.restate.server",
  "results.peers.restate.sdk",
  "results.peers.restate.xstate",
];

const NUMBERS = [
  "machine.cores",
  "machine.memoryGiB",
  "results.ceiling.transitionsPerSaga",
  "results.ceiling.oneInstance.connections",
  "results.ceiling.oneInstance.transitionsPerStatement",
  "results.ceiling.twoInstances.transitionsPerStatement",
  "results.ceiling.twoInstances.connections",
  "results.memory.sagas",
  "results.loadLatency.0.ratePerSecond",
  "results.loadLatency.1.ratePerSecond",
  "results.history.seededSagas",
  "results.producer.clients",
  "results.producer.seconds",
];

const STRINGS = [
  "machine.cpuModel",
  "machine.postgres",
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

/** Small counts for every phase: the figures are rough, the run is quick. */
const QUICK = [
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
  "--load-seconds",
  "1",
  "--history-sagas",
  "500",
  "--history-seconds",
  "1",
];

function assertClose(actual: number, expected: number) {
  assert.ok(Math.abs(actual - expected) <= 1e-9 * Math.abs(expected), `${actual} ≠ ${expected}`);
}

/** The phase ran: its figures, else a failed assertion naming it. */
function ran<T extends object>(x: T | Skipped, name: string): T {
  assert.ok(measured(x), `${name} was skipped`);
  return x;
}

/**
 * The struggling service and overload figures are there and sane: the rates
 * they were offered follow from the measured maximum, every window finished
 * sagas, no window counts fewer than a happy saga's 4 calls per saga, the
 * ratios are their parts' ratios, and each goal is reported, met or not.
 */
function assertResilience(json: BenchResults) {
  assertSpreads(json, RESILIENCE_SPREADS);
  const x = json.results;
  const max = x.throughput.oneInstance.median;
  const slow = ran(x.slowService, "slowService");
  assert.equal(slow.ratePerSecond, Math.max(1, Math.round(0.5 * max)));
  assert.deepEqual([slow.service, slow.healthyLatencyMs, slow.slowLatencyMs], ["payments", 5, 50]);
  for (const w of ["healthy", "slow", "recovered"] as const) {
    assert.ok(slow[w].sagasPerSecond.median > 0, `${w}: no saga completed`);
    assert.ok(slow[w].callsPerSaga.median >= 4, `${w}: ${slow[w].callsPerSaga.median} calls/saga`);
    assert.ok(slow[w].seconds > 0, `${w}: ${slow[w].seconds} s`);
  }
  assert.ok(slow.callsPerSaga.median >= 4, `whole run: ${slow.callsPerSaga.median} calls/saga`);
  slow.callsPerSagaRatio.runs.forEach((ratio, i) =>
    assertClose(ratio, slow.slow.callsPerSaga.runs[i]! / slow.healthy.callsPerSaga.runs[i]!)
  );
  assert.ok(slow.recoverySeconds.median >= 0);
  assert.ok(slow.runsBack >= 0 && slow.runsBack <= slow.recoverySeconds.runs.length);
  for (const goal of Object.values(slow.goals)) assert.equal(typeof goal.met, "boolean");

  const over = ran(x.overload, "overload");
  assert.equal(over.ratePerSecond, Math.max(1, Math.round(1.5 * max)));
  assert.equal(over.maxRatePerSecond, max);
  assert.ok(over.committedPerSecond.median > 0);
  assert.ok(over.achievedPerSecond.median > 0);
  assert.ok(over.backlogPeak.median >= 1, "no backlog at 1.5 × the maximum");
  assert.ok(over.backlogPeak.median >= over.backlogAtStop.median);
  assert.ok(over.drainPerSecond.median > 0);
  over.drainRatio.runs.forEach((ratio, i) =>
    assertClose(ratio * max, over.drainPerSecond.runs[i]!)
  );
  assert.ok(over.orchestratorMsPerSaga.median > 0);
  assert.ok(over.cpuRatio.median > 0);
  for (const goal of Object.values(over.goals)) assert.equal(typeof goal.met, "boolean");
}

/** Runs the bench with `extra` arguments; returns its output and the JSON it wrote. */
async function runBench(extra: string[]): Promise<{ text: string; json: BenchResults }> {
  const id = crypto.randomUUID().slice(0, 8);
  const dataDir = `.data/bench-test-${id}`;
  // Outside .data, in a folder that does not exist yet: --out takes any path.
  const outDir = await Deno.makeTempDir({ prefix: "bench-out-" });
  const out = `${outDir}/nested/results.json`;
  const child = new Deno.Command(Deno.execPath(), {
    args: [...benchArgs(), ...QUICK, ...extra, "--data-dir", dataDir, "--out", out],
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  });
  try {
    const result = await child.output();
    const text = new TextDecoder().decode(result.stdout) + new TextDecoder().decode(result.stderr);
    assert.equal(result.code, 0, text);
    return { text, json: JSON.parse(await Deno.readTextFile(out)) };
  } finally {
    await Deno.remove(new URL(dataDir, ROOT), { recursive: true }).catch(() => {});
    await Deno.remove(outDir, { recursive: true }).catch(() => {});
  }
}

function assertSpreads(json: unknown, paths: string[]) {
  for (const path of paths) {
    const s = at(json, path) as Record<string, unknown> | undefined;
    assert.ok(s && typeof s === "object", `${path} missing`);
    for (const key of ["median", "min", "max"]) assertFinite(s[key], `${path}.${key}`);
    assert.ok(Array.isArray(s.runs) && s.runs.length >= 1, `${path}.runs empty`);
  }
}

function assertStrings(json: unknown, paths: string[]) {
  for (const path of paths) {
    const v = at(json, path);
    assert.ok(typeof v === "string" && v.length > 0, `${path} missing`);
  }
}

Deno.test("bench --quick writes JSON with every figure, all finite, and skips the peers", async () => {
  const { text, json } = await runBench([]);
  assert.match(text, /sagas\/s to COMPLETED, 1 instance/);
  assert.match(text, /producer: outbox inserts\/s, no trigger/);
  assert.match(text, /ours, 1 instance: commit → COMPLETED p50/);
  assert.match(text, /history: sagas\/s, 1 instance, 500 finished sagas kept/);
  assert.match(text, /struggling payments: 5 → 50 ms for 1 s/);
  assert.match(text, /overload: \d+ orders\/s offered \(150 % of our max\) for 1 s/);
  assert.match(text, /Peers \(DBOS, Restate, graphile-worker\): skipped/);

  assert.equal(json.mode, "quick");
  assertSpreads(json, SPREADS);
  for (const path of NUMBERS) assertFinite(at(json, path), path);
  const results = json.results;
  // A happy saga is four writes (four steps; the capture's write-ahead attempt
  // rides in the reservation's), each written once by some statement.
  const ceiling = ran(results.ceiling, "ceiling");
  assert.equal(ceiling.transitionsPerSaga, 4);
  assert.ok(results.groupCommit.oneInstance.median >= 1);
  // Without group commit the replay commits every transition on its own.
  assert.equal(ceiling.withoutGroupCommit.transitionsPerStatement, 1);
  assert.ok(ceiling.withoutGroupCommit.writeCommitsPerSaga.median >= 4);
  const cpu = results.cpu.oneInstance;
  for (
    const group of ["orchestratorMsPerSaga", "servicesMsPerSaga", "postgresMsPerSaga"] as const
  ) {
    assert.ok(cpu[group].median > 0, `${group} is ${cpu[group].median}`);
  }
  assert.ok(cpu.machineBusy.median > 0 && cpu.machineBusy.median <= 1);
  // With the trigger disabled nothing notifies; always-notify does, and our listener hears it.
  const busy = ran(results.producer, "producer").withOrchestrator;
  assert.equal(busy.noTrigger.notificationsPerEvent.median, 0);
  assert.ok(busy.alwaysNotify.notificationsPerEvent.median > 0);
  // Latency under load: 50 % then 80 % of the measured maximum.
  assert.deepEqual(ran(results.loadLatency, "loadLatency").map((l) => l.share), [0.5, 0.8]);
  // The history figures measured claim cycles in every case.
  for (const [name, c] of Object.entries(ran(results.history, "history").cases)) {
    assert.ok(c.claimCycle.samples.median > 0, `${name}: no claim cycle`);
  }
  assertResilience(json);
  assertStrings(json, STRINGS);
  assert.deepEqual(results.peers, { skipped: true });
  assert.equal(json.settings.only, undefined);
  walk(json, "");
});

Deno.test("bench --quick --only slow,overload runs the throughput runs and those two alone", async () => {
  const { text, json } = await runBench(["--only", "slow,overload", "--overload-seconds", "2"]);
  assert.match(text, /Only slow, overload besides the throughput runs/);
  assert.deepEqual(json.settings.only, ["slow", "overload"]);
  // The durations given, and the quick default (1 s) with its healthy stretches (2 s, the least).
  assert.match(text, /overload: \d+ orders\/s offered \(150 % of our max\) for 2 s/);
  assert.deepEqual(
    [json.settings.overloadSeconds, json.settings.slowSeconds, json.settings.slowHealthySeconds],
    [2, 1, 2],
  );
  assertSpreads(json, [
    "results.throughput.oneInstance",
    "results.throughput.twoInstances",
    "results.cpu.oneInstance.orchestratorMsPerSaga",
  ]);
  assertResilience(json);
  const x = json.results;
  for (
    const [name, phase] of Object.entries({
      wakeup: x.wakeup,
      endToEnd: x.endToEnd,
      ceiling: x.ceiling,
      memory: x.memory,
      producer: x.producer,
      loadLatency: x.loadLatency,
      history: x.history,
      peers: x.peers,
    })
  ) {
    assert.deepEqual(phase, { skipped: true }, `${name} ran`);
  }
  walk(json, "");
});

Deno.test({
  name: "bench --quick --peers adds every peer's figures, all finite",
  // Installs DBOS, Restate and graphile-worker with npm on first use: opt-in.
  ignore: Deno.env.get("BENCH_TEST_PEERS") !== "1",
  async fn() {
    const { text, json } = await runBench(["--peers"]);
    assert.match(text, /DBOS .*DBOS\.startWorkflow: sagas\/s to done/);
    assert.match(text, /Restate .*workflow \(4 ctx\.run\): sagas\/s to done/);
    assertSpreads(json, [...SPREADS, ...PEER_SPREADS]);
    assertStrings(json, [...STRINGS, ...PEER_STRINGS]);
    walk(json, "");
  },
});

Deno.test("the peers make the orchestrator's requests: same URLs, bodies and Idempotency-Key", async () => {
  let seen: { url: string; method: string; headers: Headers; body: unknown } | undefined;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    seen = { url: req.url, method: req.method, headers: req.headers, body: await req.json() };
    return Response.json({}, { status: 200 });
  });
  const base = `http://127.0.0.1:${server.addr.port}`;
  const urls = { orders: base, inventory: `${base}/base/`, payments: base };
  const [order] = happyOrders(1, 5);
  const valid = validateEvent("OrderPlaced", order!.order_id, order);
  if (valid.kind !== "start") throw new Error("not an OrderPlaced");
  const budget = { forward: 1, confirm: 1, compensation: 1 };
  const { order: data } = orderSaga.start.input(valid.payload as never, { budget }) as SagaInput;
  try {
    // The happy path, in the machine's order.
    assert.deepEqual(sagaSteps.STEPS, [...FORWARD_STEPS]);
    for (const step of FORWARD_STEPS) {
      seen = undefined;
      const out = await callStep({ orderId: data.orderId, step, input: { step, order: data } }, {
        definition: orderSaga,
        urls,
        timeoutMs: 1000,
        attempt: 0,
        retry: { baseMs: 10, maxMs: 100 },
      });
      assert.equal(out.outcome, "ok", step);
      const peer = sagaSteps.stepRequest(step, order, urls);
      assert.deepEqual(
        { url: peer.url, method: peer.method, body: peer.body },
        { url: seen!.url, method: seen!.method, body: seen!.body },
        step,
      );
      for (const [name, value] of Object.entries(sagaSteps.stepHeaders(step, order))) {
        assert.equal(seen!.headers.get(name), value, `${step}: ${name}`);
      }
    }
  } finally {
    await server.shutdown();
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

Deno.test("bench refuses an unknown --only phase, and --only with --peers, before starting", async () => {
  for (const extra of [["--only", "slow,nonsense"], ["--only", "slow", "--peers"]]) {
    const result = await new Deno.Command(Deno.execPath(), {
      args: [...benchArgs(), "--quick", ...extra],
      cwd: ROOT,
      env: { NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(60_000),
    }).output();
    const stderr = new TextDecoder().decode(result.stderr);
    assert.equal(result.code, 2, stderr);
    assert.match(stderr, /--only/);
  }
});

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
