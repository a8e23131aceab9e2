// Command-line options of `deno task demo`.
import { parseArgs } from "node:util";
import { complain, say } from "../cli_output.ts";

const USAGE =
  `usage: deno task demo [--orders N] [--instances N] [--rate N] [--seed N] [--data-dir DIR]

  --orders N      sample orders to place (default 200)
  --instances N   orchestrator processes (default 2)
  --rate N        orders per second; 0 = as fast as possible (default 20)
  --seed N        seed of the order mix (default: random)
  --data-dir DIR  embedded PostgreSQL data and logs, under .data/ (default .data/demo)`;

function int(name: string, raw: string | undefined, fallback: number, min: number): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) {
    complain(`--${name}: expected an integer ≥ ${min}, got "${raw}"\n\n${USAGE}`);
    Deno.exit(2);
  }
  return n;
}

export function parseDemoArgs() {
  let parsed;
  try {
    parsed = parseArgs({
      args: Deno.args,
      options: {
        orders: { type: "string" },
        instances: { type: "string" },
        rate: { type: "string" },
        seed: { type: "string" },
        "data-dir": { type: "string", default: ".data/demo" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (err) {
    complain(`${(err as Error).message}\n\n${USAGE}`);
    Deno.exit(2);
  }
  const v = parsed.values;
  if (v.help) {
    say(USAGE);
    Deno.exit(0);
  }
  return {
    orders: int("orders", v.orders, 200, 1),
    instances: int("instances", v.instances, 2, 1),
    rate: int("rate", v.rate, 20, 0),
    seed: int("seed", v.seed, Math.floor(Math.random() * 1e9), 0),
    dataDir: v["data-dir"].replace(/\/+$/, ""),
  };
}
