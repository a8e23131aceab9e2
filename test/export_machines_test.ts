// `deno task export-machines` writes every registered saga version and the
// supervisor as toJSON() and Mermaid files, with the task's own permissions.
import assert from "node:assert/strict";
import { sagaVersions } from "../machines/registry.ts";
import { orderSagaV1 } from "../machines/order_saga.ts";
import { supervisorMachine } from "../machines/supervisor.ts";
import { toMermaid } from "../src/inspect/mermaid.ts";

Deno.test("export-machines writes each machine as JSON and as a Mermaid state diagram", async () => {
  // Inside .data/: the task may only write there (--allow-write=.data).
  await Deno.mkdir(".data", { recursive: true });
  const out = await Deno.makeTempDir({ dir: ".data", prefix: "export-test-" });
  try {
    const run = await new Deno.Command(Deno.execPath(), {
      args: ["task", "export-machines", "--out", out],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(run.code, 0, new TextDecoder().decode(run.stderr));

    const machines = [
      ...sagaVersions().map((id) => ({ id, states: Object.keys(orderSagaV1.config.states!) })),
      { id: "supervisor", states: Object.keys(supervisorMachine.config.states!) },
    ];
    const files = [...Deno.readDirSync(out)].map((e) => e.name).sort();
    assert.deepEqual(files, machines.flatMap((m) => [`${m.id}.json`, `${m.id}.mmd`]).sort());
    for (const { id, states } of machines) {
      const json = JSON.parse(await Deno.readTextFile(`${out}/${id}.json`));
      assert.deepEqual(Object.keys(json.states), states, `${id}.json has the states`);
      const mermaid = await Deno.readTextFile(`${out}/${id}.mmd`);
      assert.ok(mermaid.startsWith("stateDiagram-v2\n"), `${id}.mmd is a state diagram`);
      for (const state of states) {
        assert.match(
          mermaid,
          new RegExp(`^\\s*(\\[\\*\\] --> )?${state}\\b`, "m"),
          `${id}.mmd: ${state}`,
        );
      }
    }
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});

Deno.test("the saga's Mermaid diagram shows its top-level transitions, eventless ones included", () => {
  const text = toMermaid(orderSagaV1, { depth: 1 });
  const lines = text.trim().split("\n").map((l) => l.trim());
  for (
    const edge of [
      "[*] --> creatingOrder",
      "creatingOrder --> reservingInventory : done [succeeded]",
      "reservingInventory --> compensating : " +
      "CANCEL [captureNeverAttempted], done [rejected & captureNeverAttempted], " +
      "done [captureNeverAttempted]",
      // The one way from an attempted capture into compensation is Payments' decline.
      "capturingPayment --> compensating : CANCEL [captureNeverAttempted], done [rejected]",
      "compensating --> releasingReservation : [touched(reserveInventory)]",
      "compensating --> voidingPayment : [else]",
      "needsAttention --> confirmingOrder : RETRY [parkedAt(confirmingOrder)]",
      "completed --> [*]",
      "cancelled --> [*]",
    ]
  ) assert.ok(lines.includes(edge), edge);
  // Retries inside a step (calling ⇄ waiting) are not top-level transitions.
  assert.ok(!text.includes("calling"));
});

Deno.test("nested states are drawn as composite states with unique ids", () => {
  const text = toMermaid(supervisorMachine);
  assert.match(text, /^\s+state running \{$/m);
  assert.match(text, /^\s+state "claiming" as running_work_claiming$/m);
  assert.match(text, /running_work_idle --> running_work_claiming : WAKE, LISTEN_UP/);
  assert.match(text, /^\s+--$/m, "parallel regions are separated");
  assert.match(text, /^\s+running --> draining : STOP$/m);
});
