// What XState itself costs a happy saga, apart from everything around it:
// the same calls the engine makes (intake's initial transition, the restore
// a claim does, every `can()` the runner asks, five transitions with the
// capture's write-ahead, the stored form of each), in a loop, in this one
// process, timed part by part. An upper bound on what any change outside
// XState can save, and a lower bound on what XState costs in the service
// (where what it allocates also lives longer, and costs the GC more).
//
//   deno run -A tooling/bench/xstate_cost.ts [--sagas N] [--rounds N]
import { intOption, parseCommandLine } from "../../src/cli_args.ts";
import { currentVersion, sagaVersion } from "../../machines/registry.ts";
import { validateEvent } from "../../src/engine/validate.ts";
import { pureTransition } from "../../src/engine/pure_transition.ts";
import {
  requestedWorkOf,
  restoreSnapshot,
  type SagaSnapshot,
  startSaga,
  toStoredSnapshot,
} from "../../src/engine/saga_state.ts";
import { happyOrders } from "./orders.ts";
import { spread } from "./stats.ts";

const USAGE = `Usage: deno run -A tooling/bench/xstate_cost.ts [--sagas N] [--rounds N]

Runs the XState calls of --sagas happy sagas (default 2000) --rounds times
(default 8) and prints µs per saga by part, median and range of the rounds
after the first three (warm-up). "total" comes from rounds run first, that
time no part, and adds the event's validation and the snapshot's JSON round trip.`;

const { values } = parseCommandLine(Deno.args, {
  sagas: { type: "string" },
  rounds: { type: "string" },
}, USAGE);
const int = intOption(USAGE);
const sagas = int("sagas", values.sagas, 2000, 10);
const rounds = int("rounds", values.rounds, 8, 4);
const WARMUP_ROUNDS = 3;

const BUDGET = { forward: 3, confirm: 5, compensation: 10 };
const ATTEMPT = { type: "ATTEMPT" };
const STEPS = ["createOrder", "reserveInventory", "capturePayment", "confirmOrder"];
const PARTS = ["initial", "restore", "can", "transition", "stored"] as const;
type Part = (typeof PARTS)[number];

const orders = happyOrders(sagas, 9);
let spent: Record<Part, number>;
// Timing each part costs a few µs per saga itself: the totals come from passes without it.
let timing = false;
function timed<T>(part: Part, f: () => T): T {
  if (!timing) return f();
  const started = performance.now();
  try {
    return f();
  } finally {
    spent[part] += performance.now() - started;
  }
}

function oneSaga(order: (typeof orders)[number]): void {
  const valid = validateEvent("OrderPlaced", order.order_id, order);
  if (valid.kind !== "start") throw new Error(`not a start event: ${valid.kind}`);
  const version = sagaVersion(currentVersion(valid.definition))!;
  const { machine } = version;
  const input = valid.definition.start.input(order as never, { budget: BUDGET });
  const { snapshot } = timed("initial", () => startSaga(machine, input));
  // As the ledger holds it and a claim reads it back.
  const row = JSON.parse(
    JSON.stringify(timed("stored", () => toStoredSnapshot(machine, snapshot))),
  );
  let snap: SagaSnapshot = timed("restore", () => restoreSnapshot(version, row));
  for (const step of STEPS) {
    const done = { type: `xstate.done.actor.${step}`, output: { outcome: "ok", status: 200 } };
    timed("can", () => {
      snap.can(ATTEMPT); // is a write-ahead due? (no: the step's outcome is)
      return snap.can(done as never);
    });
    const [next, actions] = timed("transition", () => pureTransition(machine, snap as never, done));
    requestedWorkOf(actions as never);
    timed("stored", () => toStoredSnapshot(machine, next));
    snap = next as SagaSnapshot;
    if (timed("can", () => snap.can(ATTEMPT))) {
      const [ahead] = timed("transition", () => pureTransition(machine, snap as never, ATTEMPT));
      timed("stored", () => toStoredSnapshot(machine, ahead));
      snap = ahead as SagaSnapshot;
    }
  }
  if (snap.status !== "done") throw new Error(`saga ended in ${JSON.stringify(snap.value)}`);
}

const perRound: Record<Part | "total", number[]> = {
  initial: [],
  restore: [],
  can: [],
  transition: [],
  stored: [],
  total: [],
};
for (let round = 0; round < rounds; round++) {
  const started = performance.now();
  for (const order of orders) oneSaga(order);
  const total = performance.now() - started;
  if (round >= WARMUP_ROUNDS) perRound.total.push(total * 1000 / sagas);
}
timing = true;
for (let round = 0; round < rounds; round++) {
  spent = { initial: 0, restore: 0, can: 0, transition: 0, stored: 0 };
  for (const order of orders) oneSaga(order);
  if (round < WARMUP_ROUNDS) continue;
  for (const part of PARTS) perRound[part].push(spent[part] * 1000 / sagas);
}
for (const [part, values] of Object.entries(perRound)) {
  const s = spread(values);
  console.log(
    `${part.padEnd(10)} ${s.median.toFixed(1).padStart(6)} µs per saga ` +
      `(${s.min.toFixed(1)}–${s.max.toFixed(1)})`,
  );
}
