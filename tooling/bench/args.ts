// Command-line options of `deno task bench`.
import { resolve } from "node:path";
import { complain } from "../../src/cli_output.ts";
import { intOption, parseCli } from "../../src/cli_args.ts";
import type { ProducerClient } from "./producer_load.ts";

/** The phases --only can pick; the throughput runs (1 and 2 instances) always run. */
export const PHASE_GROUPS = [
  "wakeup",
  "ceiling",
  "load",
  "slow",
  "overload",
  "memory",
  "producer",
  "history",
  "peers",
] as const;
export type PhaseGroup = (typeof PHASE_GROUPS)[number];

const USAGE = `usage: deno task bench [--quick] [--peers | --no-peers] [--out FILE] [--repeats N]
                       [--orders N] [--warmup N] [--wake-orders N] [--memory-sagas N]
                       [--peer-jobs N] [--producer-seconds N]
                       [--producer-client auto|pgbench|deno] [--load-seconds N]
                       [--history-sagas N] [--history-seconds N] [--slow-seconds N]
                       [--overload-seconds N] [--only PHASES] [--data-dir DIR]

  --quick            a short run: 1 repeat, fewer orders, no peers (figures are rough)
  --peers, --no-peers
                     run the peers (DBOS, Restate, graphile-worker) on the same orders, or
                     not (default: yes, except with --quick); installed on first use with npm
  --out FILE         where the JSON goes, any path; checked before the first measurement
                     (default .data/bench/results.json)
  --repeats N        runs per figure (default 3; quick 1)
  --orders N         orders per throughput run, ours and each peer's (default 2000; quick 200)
  --warmup N         orders run first, untimed, on the same processes (default 500;
                     quick 50); the peer runs 4 no-op jobs for each, as a saga is 4 steps
  --wake-orders N    orders per wake-up latency run (default 200; quick 30)
  --memory-sagas N   sagas waiting for the memory figure (default 10000; quick 500)
  --peer-jobs N      graphile-worker jobs per run (default 20000; quick 2000)
  --producer-seconds N
                     seconds of outbox inserts per producer's-cost figure (default 10;
                     quick 2)
  --producer-client C
                     what inserts for that figure: pgbench (C), deno (postgres.js) or
                     auto: pgbench when it is on PATH (default)
  --load-seconds N   seconds of steady arrivals per latency-under-load run (default 20;
                     quick 2)
  --history-sagas N  finished sagas seeded for the history figures (default 1000000;
                     quick 2000)
  --history-seconds N
                     seconds of steady arrivals per claim-cycle run (default 10; quick 2)
  --slow-seconds N   seconds Payments answers ten times slower (5 → 50 ms added) under
                     steady orders at half our maximum; the healthy stretches before and
                     after last half as long, at least 2 s each (default 30; quick 1)
  --overload-seconds N
                     seconds of orders at 1.5 × our maximum before they stop and the
                     backlog drains (default 30; quick 1)
  --only PHASES      only these phases, comma-separated, from:
                     ${PHASE_GROUPS.join(", ")};
                     the throughput runs always come first (every other figure is
                     measured against them); the rest are reported as skipped
  --data-dir DIR     PostgreSQL data, logs and Restate's log, under .data/ (default
                     .data/bench); the peers and their Node are installed in .data/bench`;

/** The peers and their Node are installed here; default data dir and output too. */
export const PEER_DIR = ".data/bench";

const PRODUCER_CLIENTS: ProducerClient[] = ["auto", "pgbench", "deno"];

function parseOnly(raw: string): Set<PhaseGroup> {
  const names = raw.split(",").map((n) => n.trim()).filter((n) => n !== "");
  const unknown = names.filter((n) => !PHASE_GROUPS.includes(n as PhaseGroup));
  if (names.length === 0 || unknown.length > 0) {
    complain(
      `--only: expected phases from ${PHASE_GROUPS.join(", ")}, got "${raw}"\n\n${USAGE}`,
    );
    Deno.exit(2);
  }
  return new Set(names as PhaseGroup[]);
}

export type BenchArgs = ReturnType<typeof parseBenchArgs>;

export function parseBenchArgs() {
  const v = parseCli(Deno.args, {
    quick: { type: "boolean", default: false },
    peers: { type: "boolean" },
    "no-peers": { type: "boolean" },
    out: { type: "string" },
    "data-dir": { type: "string", default: PEER_DIR },
    repeats: { type: "string" },
    orders: { type: "string" },
    warmup: { type: "string" },
    "wake-orders": { type: "string" },
    "memory-sagas": { type: "string" },
    "peer-jobs": { type: "string" },
    "producer-seconds": { type: "string" },
    "producer-client": { type: "string", default: "auto" },
    "load-seconds": { type: "string" },
    "history-sagas": { type: "string" },
    "history-seconds": { type: "string" },
    "slow-seconds": { type: "string" },
    "overload-seconds": { type: "string" },
    only: { type: "string" },
  }, USAGE);
  const int = intOption(USAGE);
  const quick = v.quick;
  const producerClient = v["producer-client"];
  if (!PRODUCER_CLIENTS.includes(producerClient as ProducerClient)) {
    complain(
      `--producer-client: expected auto, pgbench or deno, got "${producerClient}"\n\n${USAGE}`,
    );
    Deno.exit(2);
  }
  if (v.peers && v["no-peers"]) {
    complain(`--peers and --no-peers: choose one\n\n${USAGE}`);
    Deno.exit(2);
  }
  const only = v.only === undefined ? undefined : parseOnly(v.only);
  if (only && (v.peers || v["no-peers"])) {
    complain(`--only and --peers/--no-peers: name peers in --only, or not\n\n${USAGE}`);
    Deno.exit(2);
  }
  // Quick: the shortest that still has a slowdown, a backlog and a drain to measure.
  const slowSeconds = int("slow-seconds", v["slow-seconds"], quick ? 1 : 30, 1);
  return {
    quick,
    /** Phases to run besides the throughput runs; undefined: all. */
    only,
    peers: only ? only.has("peers") : v.peers ?? (v["no-peers"] ? false : !quick),
    // `deno task` runs in the project's folder: a relative path the user names
    // means the folder they typed it in (INIT_CWD), as with npm scripts.
    out: v.out === undefined
      ? `${PEER_DIR}/results.json`
      : resolve(Deno.env.get("INIT_CWD") ?? Deno.cwd(), v.out),
    dataDir: v["data-dir"].replace(/\/+$/, ""),
    repeats: int("repeats", v.repeats, quick ? 1 : 3, 1),
    orders: int("orders", v.orders, quick ? 200 : 2000, 10),
    warmup: int("warmup", v.warmup, quick ? 50 : 500, 0),
    wakeOrders: int("wake-orders", v["wake-orders"], quick ? 30 : 200, 5),
    memorySagas: int("memory-sagas", v["memory-sagas"], quick ? 500 : 10_000, 10),
    peerJobs: int("peer-jobs", v["peer-jobs"], quick ? 2000 : 20_000, 10),
    producerSeconds: int("producer-seconds", v["producer-seconds"], quick ? 2 : 10, 1),
    producerClient: producerClient as ProducerClient,
    loadSeconds: int("load-seconds", v["load-seconds"], quick ? 2 : 20, 1),
    historySagas: int("history-sagas", v["history-sagas"], quick ? 2000 : 1_000_000, 1),
    historySeconds: int("history-seconds", v["history-seconds"], quick ? 2 : 10, 1),
    slowSeconds,
    // Long enough for a healthy rate before, and for the recovery after (its
    // goal is 10 s at the default); 2 s at least, for its 1 s windows.
    slowHealthySeconds: Math.max(2, Math.round(slowSeconds / 2)),
    overloadSeconds: int("overload-seconds", v["overload-seconds"], quick ? 1 : 30, 1),
  };
}
