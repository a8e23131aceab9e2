// `deno task export-machines [--out .data/machines]`: writes each registered
// saga version and the supervisor as <id>.json (`machine.toJSON()`, for
// Stately Studio and other tools) and <id>.mmd (a Mermaid stateDiagram-v2:
// the saga's top-level states, since every step's calling/waiting pair would
// only repeat itself; the supervisor with its nested regions).
import { parseArgs } from "node:util";
import type { AnyStateMachine } from "xstate";
import { sagaMachine, sagaVersions } from "../../machines/registry.ts";
import { supervisorMachine } from "../../machines/supervisor.ts";
import { toMermaid } from "../inspect/mermaid.ts";
import { say } from "../cli_output.ts";

interface Export {
  id: string;
  machine: AnyStateMachine;
  depth: number;
}

function machines(): Export[] {
  const sagas = sagaVersions().map((id) => ({ id, machine: sagaMachine(id)!, depth: 1 }));
  return [...sagas, { id: "supervisor", machine: supervisorMachine, depth: Infinity }];
}

/** A file name for a machine id: `order-saga@1` stays readable, path separators do not survive. */
const fileStem = (id: string) => id.replace(/[^A-Za-z0-9@._-]/g, "_");

const { values } = parseArgs({ options: { out: { type: "string", default: ".data/machines" } } });
const out = values.out.replace(/\/+$/, "");
await Deno.mkdir(out, { recursive: true });
for (const { id, machine, depth } of machines()) {
  const stem = `${out}/${fileStem(id)}`;
  await Deno.writeTextFile(`${stem}.json`, JSON.stringify(machine.toJSON(), null, 2) + "\n");
  await Deno.writeTextFile(`${stem}.mmd`, toMermaid(machine, { depth }));
  say(`${stem}.json  ${stem}.mmd`);
}
