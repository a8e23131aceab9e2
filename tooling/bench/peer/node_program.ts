// Starts one of the peers' Node programs (tooling/bench/peer/*.cjs) under the
// benchmark's Node, with the reference services' URLs, and waits for the
// JSON line that says it is ready.
import { fileURLToPath } from "node:url";
import { type Child, ROOT } from "../../cluster/mod.ts";
import type { BenchEnv } from "../cluster.ts";

/** Peer processes stop before the services and the database they use. */
export const PEER_TIER = 3;

export async function startNodeProgram(
  env: BenchEnv,
  opts: {
    name: string;
    node: string;
    peerDir: string;
    /** File name under tooling/bench/peer/. */
    script: string;
    vars: Record<string, string>;
    /** Commands are written to its stdin. */
    stdin?: boolean;
  },
): Promise<{ child: Child; ready: Record<string, unknown> }> {
  const script = fileURLToPath(new URL(`tooling/bench/peer/${opts.script}`, ROOT));
  const child = env.group.spawn({
    name: opts.name,
    command: opts.node,
    args: [script],
    env: {
      PEER_DIR: opts.peerDir,
      ORDERS_SERVICE_URL: env.services.urls.orders,
      INVENTORY_SERVICE_URL: env.services.urls.inventory,
      PAYMENTS_SERVICE_URL: env.services.urls.payments,
      ...opts.vars,
    },
    logFile: `${env.logDir}/${opts.name}.log`,
    tier: PEER_TIER,
    stdinPipe: opts.stdin,
  });
  try {
    const ready = await child.waitForLine(parseReady, 120_000);
    return { child, ready };
  } catch (err) {
    await env.group.stop(child, "SIGKILL");
    throw err;
  }
}

function parseReady(line: string): Record<string, unknown> | undefined {
  try {
    const parsed = JSON.parse(line);
    return parsed?.ready === true ? parsed : undefined;
  } catch {
    return undefined;
  }
}
