// Command-line options of `deno task chaos`.
import { intOption, parseCli } from "../../src/cli_args.ts";
import { type ChaosOptions, defaultChaosOptions } from "./options.ts";

const USAGE = `usage: deno task chaos [--orders N] [--instances N] [--rate N] [--seed N]
                       [--min-kills N] [--settle-timeout S] [--data-dir DIR] [--out FILE]

  --orders N          orders to place (default 1000)
  --instances N       orchestrator processes (default 3)
  --rate N            orders per second (default 40)
  --seed N            seed of the order mix and of the chaos schedule (default: random)
  --min-kills N       keep killing after the last order until this many kills (default 3)
  --settle-timeout S  seconds to wait for every saga to finish after the chaos (default 300)
  --data-dir DIR      PostgreSQL data and logs, under .data/ (default .data/chaos)
  --out FILE          also write the summary as JSON to FILE (under .data/)`;

export function parseChaosArgs(args: string[]): ChaosOptions & { out?: string } {
  const v = parseCli(args, {
    orders: { type: "string" },
    instances: { type: "string" },
    rate: { type: "string" },
    seed: { type: "string" },
    "min-kills": { type: "string" },
    "settle-timeout": { type: "string" },
    "data-dir": { type: "string" },
    out: { type: "string" },
  }, USAGE);
  const int = intOption(USAGE);
  const d = defaultChaosOptions();
  return {
    ...d,
    orders: int("orders", v.orders, d.orders, 1),
    instances: int("instances", v.instances, d.instances, 2),
    rate: int("rate", v.rate, d.rate, 1),
    seed: int("seed", v.seed, Math.floor(Math.random() * 1e9), 0),
    minKills: int("min-kills", v["min-kills"], d.minKills, 0),
    settleTimeoutMs: int("settle-timeout", v["settle-timeout"], d.settleTimeoutMs / 1000, 1) *
      1000,
    dataDir: (v["data-dir"] ?? d.dataDir).replace(/\/+$/, ""),
    out: v.out,
  };
}
