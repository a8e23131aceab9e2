// The summaries tooling/bench/profile.ts prints, on made-up profiles.
import assert from "node:assert/strict";
import { category, summariseCpu, summariseHeap } from "../tooling/bench/profile_summary.ts";

const frame = (functionName: string, url: string, lineNumber = 0) => ({
  functionName,
  url,
  lineNumber,
});
const XSTATE = "file:///w/node_modules/.deno/xstate@5.33.3/node_modules/xstate/dist/raise.cjs.js";
const RUNNER = "file:///w/src/engine/saga_runner.ts";

Deno.test("category tells libraries, our files, the runtime and GC apart", () => {
  assert.equal(category(frame("microstep", XSTATE)), "xstate");
  assert.equal(
    category(frame("go", "file:///w/node_modules/.deno/postgres@3.4.9/node_modules/postgres/x.js")),
    "postgres",
  );
  assert.equal(category(frame("runTurns", RUNNER)), "ours: src/engine/saga_runner.ts");
  assert.equal(category(frame("", "ext:deno_node/internal/buffer.mjs")), "runtime: node compat");
  assert.equal(category(frame("", "ext:core/01_core.js")), "runtime");
  assert.equal(category(frame("op_write", "")), "native: op_write");
  assert.equal(category(frame("(garbage collector)", "")), "GC");
});

Deno.test("summariseCpu: self time in per cent of the samples not idle", () => {
  const profile = {
    nodes: [
      { id: 1, callFrame: frame("(root)", ""), children: [2, 3, 4] },
      { id: 2, callFrame: frame("(idle)", "") },
      { id: 3, callFrame: frame("microstep", XSTATE, 9) },
      { id: 4, callFrame: frame("runTurns", RUNNER, 99) },
    ],
    // Idle 500 µs is left out; xstate 300, ours 100: 75 % and 25 %.
    samples: [2, 3, 3, 3, 4, 2],
    timeDeltas: [250, 100, 100, 100, 100, 250],
  };
  const lines = summariseCpu(profile);
  assert.equal(lines[0], "CPU profile: 0 ms of samples not idle");
  assert.deepEqual(lines.slice(1, 3), [
    " 75.0 %  xstate",
    " 25.0 %  ours: src/engine/saga_runner.ts",
  ]);
  assert.ok(lines.includes(" 75.0 %  microstep raise.cjs.js:10"), lines.join("\n"));
});

Deno.test("summariseHeap: bytes per saga, owned by the nearest library or file of ours", () => {
  const head = {
    callFrame: frame("(root)", ""),
    selfSize: 0,
    children: [{
      callFrame: frame("runTurns", RUNNER),
      selfSize: 1024,
      children: [{
        callFrame: frame("transition", XSTATE),
        selfSize: 0,
        // A native Set made inside XState is XState's.
        children: [{ callFrame: frame("Set", ""), selfSize: 3072 }],
      }],
    }],
  };
  const lines = summariseHeap(head, 2);
  assert.equal(lines[0], "Allocated: 2.0 KB per saga");
  assert.deepEqual(lines.slice(1, 3), [
    "   1.5 KB  xstate",
    "   0.5 KB  ours: src/engine/saga_runner.ts",
  ]);
  assert.ok(lines.includes("   1.5 KB  Set (native):1"), lines.join("\n"));
});
