// Helper process: the local cluster's embedded PostgreSQL (the demo, the
// benchmark, chaos runs), started by src/db/embedded.ts as `deno task start` does.
// Prints one JSON line `{"ready":true,"adminUrl":…,"port":…,"postmasterPid":…}`
// once it accepts connections, and stops the server on SIGTERM/SIGINT.
//
// It is also the watchdog of its parent's other children: the parent writes
// "+pid" / "-pid" lines on our stdin as they start and exit. When stdin
// closes, the parent died without cleaning up (even by SIGKILL): we stop the
// processes still listed (SIGTERM, then SIGKILL), then the server.
//
//   deno run <start task flags> tooling/cluster/db_server.ts --data-dir .data/demo/pg [--port N]
//
// The port: the one a server left running on the data dir listens on, else
// --port, else a free one (--port lets a stopped server come back on its port).
import { parseArgs } from "node:util";
import { startEmbedded } from "../../src/db/embedded.ts";
import { createLogger, flushLogger } from "../../src/log.ts";
import { alive } from "./processes.ts";
import { freePort } from "./ports.ts";
import { TextLineStream } from "../../src/text_lines.ts";
import { complain, say } from "../../src/cli_output.ts";

const logger = createLogger("warn");

/** The port a server left running on this data dir listens on, if any. */
function previousPort(dataDir: string): number | undefined {
  try {
    const lines = Deno.readTextFileSync(`${dataDir}/postmaster.pid`).split("\n");
    const port = Number(lines[3]);
    return Number.isInteger(port) && port > 0 ? port : undefined;
  } catch {
    return undefined;
  }
}

function postmasterPid(dataDir: string): number | undefined {
  try {
    const pid = Number(Deno.readTextFileSync(`${dataDir}/postmaster.pid`).split("\n")[0]);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitGone(pid: number, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while (alive(pid)) {
    if (Date.now() > until) return false;
    await sleep(50);
  }
  return true;
}

/** Fast shutdown; immediate shutdown (SIGQUIT) and SIGKILL when it hangs. */
async function stopPostmaster(pid: number, stop: () => Promise<void>): Promise<void> {
  await Promise.race([stop().catch(() => {}), sleep(10_000)]);
  if (!alive(pid)) return;
  for (const [signal, wait] of [["SIGINT", 5000], ["SIGQUIT", 3000], ["SIGKILL", 3000]] as const) {
    try {
      Deno.kill(pid, signal);
    } catch { /* gone */ }
    if (await waitGone(pid, wait)) return;
  }
}

async function main() {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      "data-dir": { type: "string", default: ".data/demo/pg" },
      port: { type: "string" },
    },
  });
  const dataDir = values["data-dir"];
  const wanted = values.port === undefined ? undefined : Number(values.port);
  if (wanted !== undefined && !(Number.isInteger(wanted) && wanted > 0 && wanted < 65536)) {
    throw new Error(`--port: expected a port number, got "${values.port}"`);
  }
  await Deno.mkdir(dataDir, { recursive: true });
  const port = previousPort(dataDir) ?? wanted ?? await freePort();
  const server = await startEmbedded({ dataDir, port, logger });
  const pid = postmasterPid(dataDir);
  if (pid === undefined) throw new Error(`no postmaster.pid in ${dataDir}`);

  let stopping: Promise<void> | undefined;
  const shutdown = () =>
    stopping ??= (async () => {
      await stopPostmaster(pid, () => server.stop());
      await flushLogger(logger);
      Deno.exit(0);
    })();
  Deno.addSignalListener("SIGTERM", shutdown);
  Deno.addSignalListener("SIGINT", shutdown);
  say(JSON.stringify({
    ready: true,
    adminUrl: server.adminUrl,
    port: server.port,
    postmasterPid: pid,
    reused: !server.owned,
  }));
  const orphans = new Set<number>();
  const lines = Deno.stdin.readable.pipeThrough(new TextDecoderStream()).pipeThrough(
    new TextLineStream(),
  );
  for await (const line of lines) {
    const pid = Number(line.slice(1));
    if (!Number.isInteger(pid) || pid <= 0) continue;
    if (line.startsWith("+")) orphans.add(pid);
    else if (line.startsWith("-")) orphans.delete(pid);
  }
  // EOF: the parent is gone.
  await stopOrphans([...orphans]);
  await shutdown();
}

/** SIGTERM, up to 15 s to exit (orchestrators drain), then SIGKILL. */
async function stopOrphans(pids: number[]): Promise<void> {
  const signal = (pid: number, sig: Deno.Signal) => {
    try {
      Deno.kill(pid, sig);
    } catch { /* gone */ }
  };
  for (const pid of pids) signal(pid, "SIGTERM");
  const until = Date.now() + 15_000;
  while (pids.some(alive) && Date.now() < until) await sleep(100);
  for (const pid of pids.filter(alive)) signal(pid, "SIGKILL");
}

main().catch(async (err) => {
  complain(err instanceof Error ? err.message : String(err));
  await flushLogger(logger);
  Deno.exit(1);
});
