// A Restate server for one measurement: the single static binary from npm
// (@restatedev/restate-server-linux-x64), a fresh base directory under the
// benchmark's data dir (its log and state live there, on local disk), free
// loopback ports for its ingress, admin API and node-to-node port, its own
// defaults otherwise (a single node, 24 partitions). Also the two admin
// calls the benchmark needs: register a deployment, and SQL over its
// introspection tables.
import type { Child } from "../../cluster/mod.ts";
import type { BenchEnv } from "../cluster.ts";

export interface RestateServer {
  child: Child;
  ingressUrl: string;
  adminUrl: string;
  /** The server's version, e.g. "1.7.12". */
  version: string;
}

/** Stopped after the endpoint (tier 3) that it invokes, before the services. */
const SERVER_TIER = 2;

const binary = (peerDir: string) =>
  `${peerDir}/node_modules/@restatedev/restate-server-linux-x64/bin/restate-server`;

/** `n` distinct loopback ports that were free a moment ago (all bound at once, then closed). */
function freePorts(n: number): number[] {
  const listeners = Array.from(
    { length: n },
    () => Deno.listen({ hostname: "127.0.0.1", port: 0 }),
  );
  const ports = listeners.map((l) => (l.addr as Deno.NetAddr).port);
  for (const l of listeners) l.close();
  return ports;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function ok(url: string): Promise<boolean> {
  try {
    const response = await fetch(url);
    await response.body?.cancel();
    return response.ok;
  } catch {
    return false;
  }
}

export async function startRestateServer(
  env: BenchEnv,
  opts: { peerDir: string; name: string },
): Promise<RestateServer> {
  const baseDir = `${env.dataDir}/${opts.name}`;
  await Deno.remove(baseDir, { recursive: true }).catch(() => {});
  await Deno.mkdir(baseDir, { recursive: true });
  const [ingress, admin, node] = freePorts(3);
  // "restate-server 1.7.12"
  const version = new TextDecoder().decode(
    (await new Deno.Command(binary(opts.peerDir), { args: ["--version"], stdout: "piped" })
      .output()).stdout,
  ).trim().replace(/^restate-server\s+/, "");
  const child = env.group.spawn({
    name: opts.name,
    command: binary(opts.peerDir),
    args: [
      "--no-logo",
      "--listen-mode",
      "tcp",
      "--node-name",
      "bench",
      "--base-dir",
      baseDir,
      "--bind-address",
      `127.0.0.1:${node}`,
      "--advertised-address",
      `http://127.0.0.1:${node}/`,
    ],
    env: {
      RESTATE_INGRESS__BIND_ADDRESS: `127.0.0.1:${ingress}`,
      RESTATE_ADMIN__BIND_ADDRESS: `127.0.0.1:${admin}`,
      RESTATE_DISABLE_TELEMETRY: "true",
      RESTATE_LOG_FILTER: "warn",
      RESTATE_LOG_FORMAT: "compact",
      RESTATE_LOG_DISABLE_ANSI_CODES: "true",
    },
    logFile: `${env.logDir}/${opts.name}.log`,
    tier: SERVER_TIER,
  });
  const server = {
    child,
    ingressUrl: `http://127.0.0.1:${ingress}`,
    adminUrl: `http://127.0.0.1:${admin}`,
    version,
  };
  const until = Date.now() + 60_000;
  while (
    !(await ok(`${server.adminUrl}/health`) && await ok(`${server.ingressUrl}/restate/health`))
  ) {
    if (child.exited) throw new Error(`restate-server exited:\n${child.tail()}`);
    if (Date.now() > until) {
      await env.group.stop(child, "SIGKILL");
      throw new Error(`restate-server not ready after 60 s:\n${child.tail()}`);
    }
    await sleep(100);
  }
  return server;
}

/** Registers the deployment at `uri` (a service endpoint) and waits until its services are known. */
export async function registerDeployment(
  server: RestateServer,
  uri: string,
  services: string[],
): Promise<void> {
  const response = await fetch(`${server.adminUrl}/deployments`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ uri }),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`registering ${uri}: HTTP ${response.status} ${text}`);
  const until = Date.now() + 30_000;
  for (;;) {
    const listed = await fetch(`${server.adminUrl}/services`).then((r) => r.json());
    const names = new Set((listed.services ?? []).map((s: { name: string }) => s.name));
    if (services.every((s) => names.has(s))) return;
    if (Date.now() > until) throw new Error(`services ${services} not registered after 30 s`);
    await sleep(100);
  }
}

/** Rows of a SQL query over Restate's introspection tables (admin API /query). */
export async function restateQuery<T>(server: RestateServer, query: string): Promise<T[]> {
  const response = await fetch(`${server.adminUrl}/query`, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json" },
    body: JSON.stringify({ query }),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`restate query failed: HTTP ${response.status} ${text}`);
  return JSON.parse(text).rows as T[];
}
