// `deno task demo` end to end: a short run finishes every saga and verifies
// its effects; a Ctrl-C (SIGINT) mid-run leaves no process behind.
import assert from "node:assert/strict";
import { TextLineStream } from "../src/text_lines.ts";

const ROOT = new URL("../", import.meta.url);

/** `deno run <flags> tooling/demo/main.ts`, taken from the demo task so the test uses its permissions. */
function demoArgs(): string[] {
  const deno = JSON.parse(Deno.readTextFileSync(new URL("deno.json", ROOT)));
  const task = deno.tasks.demo;
  const command: string = typeof task === "string" ? task : task.command;
  return command.split(/\s+/).slice(1);
}

interface Demo {
  pid: number;
  lines: string[];
  waitFor(match: (line: string) => boolean, timeoutMs?: number): Promise<void>;
  kill(signal: Deno.Signal): void;
  status: Promise<Deno.CommandStatus>;
}

function startDemo(args: string[]): Demo {
  const child = new Deno.Command(Deno.execPath(), {
    args: [...demoArgs(), ...args],
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const lines: string[] = [];
  const waiters = new Set<() => void>();
  const pump = async (stream: ReadableStream<Uint8Array>) => {
    const text = stream.pipeThrough(new TextDecoderStream()).pipeThrough(new TextLineStream());
    for await (const line of text) {
      lines.push(line);
      for (const w of waiters) w();
    }
  };
  const pumps = Promise.all([pump(child.stdout), pump(child.stderr)]);
  let exited = false;
  const status = child.status.then(async (s) => {
    await pumps;
    exited = true;
    for (const w of waiters) w();
    return s;
  });
  return {
    pid: child.pid,
    lines,
    status,
    kill: (signal) => {
      try {
        child.kill(signal);
      } catch { /* already exited */ }
    },
    waitFor(match, timeoutMs = 120_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => finish(new Error("timed out")), timeoutMs);
        const check = () => {
          if (lines.some(match)) finish();
          else if (exited) finish(new Error("the demo exited"));
        };
        const finish = (err?: Error) => {
          clearTimeout(timer);
          waiters.delete(check);
          if (err) reject(new Error(`${err.message} waiting for a line:\n${lines.join("\n")}`));
          else resolve();
        };
        waiters.add(check);
        check();
      });
    },
  };
}

interface Proc {
  pid: number;
  ppid: number;
  state: string;
  start: string;
}

/**
 * Every process, from /proc/<pid>/stat. Read through `cat`: Deno allows reads
 * under /proc only with --allow-all.
 */
async function processTable(): Promise<Proc[]> {
  const out = await new Deno.Command("sh", {
    args: ["-c", "cat /proc/[0-9]*/stat 2>/dev/null; true"],
    stdout: "piped",
  }).output();
  const procs: Proc[] = [];
  for (const line of new TextDecoder().decode(out.stdout).split("\n")) {
    const close = line.lastIndexOf(")");
    if (close < 0) continue;
    // After "pid (name) ": state, ppid, …; the start time is field 22 of the line.
    const fields = line.slice(close + 2).split(" ");
    procs.push({
      pid: Number(line.slice(0, line.indexOf(" "))),
      ppid: Number(fields[1]),
      state: fields[0]!,
      start: fields[19]!,
    });
  }
  return procs;
}

async function descendants(root: number): Promise<Proc[]> {
  const table = await processTable();
  const found: Proc[] = [];
  const queue = [root];
  while (queue.length) {
    const parent = queue.shift()!;
    for (const p of table) {
      if (p.ppid === parent) {
        found.push(p);
        queue.push(p.pid);
      }
    }
  }
  return found;
}

/** Those of `procs` still running: same pid and start time, not a zombie. */
async function stillAlive(procs: Proc[]): Promise<Proc[]> {
  const now = await processTable();
  return procs.filter((p) =>
    now.some((q) => q.pid === p.pid && q.start === p.start && q.state !== "Z" && q.state !== "X")
  );
}

/** After a failure: SIGTERM (the demo stops its children), SIGKILL if it hangs. */
async function stopDemo(demo: Demo): Promise<void> {
  demo.kill("SIGTERM");
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise((r) => timer = setTimeout(() => r("late"), 60_000));
  if (await Promise.race([demo.status, late]) === "late") demo.kill("SIGKILL");
  clearTimeout(timer);
  await demo.status;
}

function dataDir(): string {
  return `.data/demo-test-${crypto.randomUUID().slice(0, 8)}`;
}

async function removeDir(dir: string) {
  await Deno.remove(new URL(dir, ROOT), { recursive: true }).catch(() => {});
}

Deno.test("demo --orders 20 --instances 2 finishes every saga and verifies the effects", async () => {
  const dir = dataDir();
  const demo = startDemo(["--orders", "20", "--instances", "2", "--rate", "40", "--data-dir", dir]);
  try {
    const status = await demo.status;
    const out = demo.lines.join("\n");
    assert.equal(status.code, 0, out);
    assert.match(out, /sagas terminal: 20 of 20 placed/);
    assert.match(out, /effects verified: OK/);
    assert.match(out, /admin API\s+http:\/\/127\.0\.0\.1:\d+\//);
    assert.match(out, /All processes stopped\./);
  } finally {
    await stopDemo(demo);
    await removeDir(dir);
  }
});

Deno.test("SIGINT mid-run stops every process the demo started", async () => {
  const dir = dataDir();
  const demo = startDemo([
    "--orders",
    "100000",
    "--instances",
    "2",
    "--rate",
    "50",
    "--data-dir",
    dir,
  ]);
  try {
    // Running: the status line shows finished sagas.
    await demo.waitFor((l) => /COMPLETED [1-9]/.test(l));
    const children = await descendants(demo.pid);
    // Database helper, postmaster, three services, two orchestrators (at least).
    assert.ok(children.length >= 7, `only ${children.length} descendants`);
    demo.kill("SIGINT");
    const status = await demo.status;
    const out = demo.lines.join("\n");
    assert.equal(status.code, 130, out);
    assert.match(out, /Summary \(interrupted/);
    assert.match(out, /All processes stopped\./);
    const left = await stillAlive(children);
    assert.deepEqual(left.map((p) => p.pid), [], "processes left behind");
  } finally {
    await stopDemo(demo);
    await removeDir(dir);
  }
});
