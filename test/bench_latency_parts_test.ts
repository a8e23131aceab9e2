// The split of commit → done that tooling/bench/latency_parts.ts prints, on made-up timings.
import assert from "node:assert/strict";
import { latencyParts, partsReport, TOTAL } from "../tooling/bench/latency_parts_summary.ts";

const line = (orderId: string, event: string, atMs: number) => ({ orderId, event, atMs });

Deno.test("latencyParts splits each order's time at its history lines, in their order", () => {
  const committedAt = new Map([["a", 1000], ["b", 2000]]);
  const history = [
    line("a", "OrderPlaced", 1001),
    line("b", "OrderPlaced", 2004),
    line("a", "createOrder:ok", 1006),
    line("b", "createOrder:ok", 2010),
  ];
  const doneAt = new Map([["a", 1006], ["b", 2012]]);
  const { parts, unfinished } = latencyParts(committedAt, history, doneAt);
  assert.equal(unfinished, 0);
  assert.deepEqual([...parts.keys()], [
    "commit → OrderPlaced",
    "OrderPlaced → createOrder:ok",
    "createOrder:ok → done",
    TOTAL,
  ]);
  assert.deepEqual(parts.get("commit → OrderPlaced"), [1, 4]);
  assert.deepEqual(parts.get("OrderPlaced → createOrder:ok"), [5, 6]);
  assert.deepEqual(parts.get("createOrder:ok → done"), [0, 2]);
  assert.deepEqual(parts.get(TOTAL), [6, 12]);
});

Deno.test("latencyParts counts, and leaves out, an order with no history or no end", () => {
  const committedAt = new Map([["a", 0], ["b", 0], ["c", 0]]);
  const { parts, unfinished } = latencyParts(
    committedAt,
    [line("a", "OrderPlaced", 2), line("b", "OrderPlaced", 3)],
    new Map([["a", 5], ["c", 9]]),
  );
  assert.equal(unfinished, 2);
  assert.deepEqual(parts.get(TOTAL), [5]);
  assert.deepEqual(parts.get("commit → OrderPlaced"), [2]);
});

Deno.test("partsReport prints each part's count and percentiles, then the writer's means", () => {
  const parts = new Map([["commit → OrderPlaced", [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]]]);
  const lines = partsReport("50 orders/s", parts, {
    stepMs: 1.25,
    statementMs: 2,
    waitMs: 3.5,
    batch: 1.04,
  });
  assert.equal(lines[0], "50 orders/s");
  const row = lines[2]!.trim().split(/\s{2,}/);
  assert.deepEqual(row, ["commit → OrderPlaced", "10", "5.5", "9.1", "9.9"]);
  assert.equal(
    lines[3],
    "  means: downstream call 1.25 ms, statement 2.00 ms for 1.0 transitions, write → commit 3.50 ms",
  );
});
