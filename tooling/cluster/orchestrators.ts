// Orchestrator instances as real processes, run exactly like `deno task start`
// (its permission flags are read from deno.json). Two shapes: an Instance of
// a ProcessGroup with its own INSTANCE_ID and ADMIN_PORT (the demo, the
// benchmark, chaos runs), and an OrchestratorProcess whose JSON log lines are
// kept for a test to wait on and assert.
import { Child, type ProcessGroup, ROOT } from "./processes.ts";
import { freePort } from "./ports.ts";
import type { ServiceUrls } from "./services.ts";

export const ORCHESTRATOR_TIER = 3;

/** The `--allow-*` flags of a task in deno.json ("start": least privilege of the service). */
export function taskFlags(task: string): string[] {
  const deno = JSON.parse(Deno.readTextFileSync(new URL("deno.json", ROOT)));
  const entry = deno.tasks[task];
  if (entry === undefined) throw new Error(`no task "${task}" in deno.json`);
  const command: string = typeof entry === "string" ? entry : entry.command;
  return command.split(/\s+/).filter((arg) => arg.startsWith("--"));
}

/**
 * `deno` arguments that run the service as `deno task start` does: this
 * checkout's, or another source tree's (a worktree of an older commit) with
 * that tree's own configuration.
 */
export function startArgs(tree?: string, runFlags: string[] = []): string[] {
  if (tree === undefined) return ["run", ...runFlags, ...taskFlags("start"), "src/main.ts"];
  return [
    "run",
    ...runFlags,
    `--config=${tree}/deno.json`,
    ...taskFlags("start"),
    `${tree}/src/main.ts`,
  ];
}

export interface Instance {
  id: string;
  adminUrl: string;
  child: Child;
}

export interface InstanceOptions {
  id: string;
  databaseUrl: string;
  services: ServiceUrls;
  env?: Record<string, string>;
  logFile?: string;
  /** Another source tree to run (default: this checkout). */
  tree?: string;
  /** More `deno run` flags, e.g. a profiler's (tooling/bench/profile.ts). */
  runFlags?: string[];
}

export async function startInstance(group: ProcessGroup, opts: InstanceOptions): Promise<Instance> {
  const port = await freePort();
  const child = group.spawn({
    name: opts.id,
    args: startArgs(opts.tree, opts.runFlags),
    env: {
      LOG_LEVEL: "info",
      ...opts.env,
      DATABASE_URL: opts.databaseUrl,
      ORDERS_SERVICE_URL: opts.services.orders,
      INVENTORY_SERVICE_URL: opts.services.inventory,
      PAYMENTS_SERVICE_URL: opts.services.payments,
      INSTANCE_ID: opts.id,
      ADMIN_HOST: "127.0.0.1",
      ADMIN_PORT: String(port),
      ADMIN_ENABLED: "true",
    },
    logFile: opts.logFile,
    tier: ORCHESTRATOR_TIER,
  });
  return { id: opts.id, adminUrl: `http://127.0.0.1:${port}`, child };
}

/**
 * Waits until the instance answers /readyz with the database up (and, when
 * `listen` is set, LISTEN connected). Works at any LOG_LEVEL.
 */
export async function waitReady(
  instance: Instance,
  opts: { listen: boolean; timeoutMs?: number },
): Promise<void> {
  const until = Date.now() + (opts.timeoutMs ?? 60_000);
  for (;;) {
    if (instance.child.exited) {
      throw new Error(`${instance.id} exited during start-up:\n${instance.child.tail()}`);
    }
    try {
      const res = await fetch(`${instance.adminUrl}/readyz`);
      const body = await res.json();
      if (res.ok && (!opts.listen || body.listen === true)) return;
    } catch { /* not listening yet */ }
    if (Date.now() > until) {
      throw new Error(
        `${instance.id} not ready after ${opts.timeoutMs ?? 60_000} ms:\n${instance.child.tail()}`,
      );
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

export interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

/** An orchestrator process whose JSON log lines are all kept (`logs`), the rest in `other`. */
export class OrchestratorProcess {
  readonly logs: LogLine[] = [];
  /** Raw stdout/stderr lines that were not JSON log lines. */
  readonly other: string[] = [];

  constructor(readonly child: Child) {
    child.onLine((line) => {
      try {
        const parsed = JSON.parse(line);
        if (parsed && typeof parsed.msg === "string") return void this.logs.push(parsed);
      } catch { /* not JSON */ }
      this.other.push(line);
    });
  }

  get pid(): number {
    return this.child.pid;
  }

  /** Resolves once it has exited and all its output has been read. */
  get status(): Promise<Deno.CommandStatus> {
    return this.child.status;
  }

  kill(signal: Deno.Signal = "SIGTERM"): void {
    this.child.kill(signal);
  }

  /** The first log line (past or future) that matches; rejects if it exits first. */
  waitForLog(match: (l: LogLine) => boolean, timeoutMs = 20_000): Promise<LogLine> {
    return this.child.waitUntil(() => this.logs.find(match), {
      timeoutMs,
      what: "the log line it waited for",
    });
  }

  /** Waits until it runs its first claim cycle. */
  async started(): Promise<void> {
    await this.waitForLog((l) => l.msg === "Starting polling loop");
  }

  /** Its warnings and errors, for a failing test's report. */
  warnings(): string[] {
    return [
      ...this.logs.filter((l) => l.level >= 40).slice(0, 30).map((l) => JSON.stringify(l)),
      ...this.other.slice(0, 10),
    ];
  }
}

/**
 * `deno task start`'s process with `env` (LOG_LEVEL info and ADMIN_PORT 0
 * unless given), not detached: a test's Ctrl-C reaches it too. Reap it with
 * `reap()`, or in `group` with the group.
 */
export function startOrchestratorProcess(
  env: Record<string, string>,
  opts: { group?: ProcessGroup; name?: string } = {},
): OrchestratorProcess {
  const spawn = {
    name: opts.name ?? env.INSTANCE_ID ?? "orchestrator",
    args: startArgs(),
    env: { LOG_LEVEL: "info", ADMIN_PORT: "0", ...env },
    tier: ORCHESTRATOR_TIER,
    detached: false,
  };
  return new OrchestratorProcess(opts.group ? opts.group.spawn(spawn) : new Child(spawn));
}

/** SIGKILLs (those still alive) and waits until they have exited; for `finally`. */
export async function reap(...ps: Array<OrchestratorProcess | undefined>): Promise<void> {
  for (const p of ps) p?.kill("SIGKILL");
  await Promise.all(ps.map((p) => p?.status));
}

/** Prints the warnings and errors the processes logged (for a failing test's report). */
export function printWarnings(...ps: Array<OrchestratorProcess | undefined>): void {
  for (const p of ps) {
    const lines = p?.warnings() ?? [];
    if (lines.length) console.error(`process ${p!.pid} warnings:\n${lines.join("\n")}`);
  }
}
