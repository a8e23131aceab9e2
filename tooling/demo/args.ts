// Command-line options of `deno task demo`.
import { intOption, parseCli } from "../../src/cli_args.ts";

const USAGE =
  `usage: deno task demo [--orders N] [--instances N] [--rate N] [--seed N] [--data-dir DIR]

  --orders N      sample orders to place (default 200)
  --instances N   orchestrator processes (default 2)
  --rate N        orders per second; 0 = as fast as possible (default 20)
  --seed N        seed of the order mix (default: random)
  --data-dir DIR  embedded PostgreSQL data and logs, under .data/ (default .data/demo)`;

export function parseDemoArgs() {
  const v = parseCli(Deno.args, {
    orders: { type: "string" },
    instances: { type: "string" },
    rate: { type: "string" },
    seed: { type: "string" },
    "data-dir": { type: "string", default: ".data/demo" },
  }, USAGE);
  const int = intOption(USAGE);
  return {
    orders: int("orders", v.orders, 200, 1),
    instances: int("instances", v.instances, 2, 1),
    rate: int("rate", v.rate, 20, 0),
    seed: int("seed", v.seed, Math.floor(Math.random() * 1e9), 0),
    dataDir: v["data-dir"].replace(/\/+$/, ""),
  };
}
