// Child processes of the local cluster (the demo, the benchmark, chaos runs and
// the tests). In a ProcessGroup each runs in its own session (`detached`), so
// a Ctrl-C in the terminal reaches only the parent, which then stops them in
// order: orchestrators first (they drain and release leases while the
// database is still up), then the services, then the database. Output goes to
// a log file and to line handlers; `stop()` is SIGTERM, then SIGKILL after a
// grace.
import { TextLineStream } from "../../src/text_lines.ts";

export const ROOT = new URL("../../", import.meta.url);

export interface ChildOptions {
  name: string;
  /** The executable; default: this Deno. */
  command?: string;
  /** Arguments (after `deno` by default). */
  args: string[];
  env?: Record<string, string>;
  /** Every output line is appended here. */
  logFile?: string;
  /** Stopped before lower tiers (orchestrators 3, services 2, database 1); default 0. */
  tier?: number;
  /** Keep stdin open: a child that watches it sees EOF when we die, even by SIGKILL. */
  stdinPipe?: boolean;
  /**
   * Its own session (default): a Ctrl-C in the terminal does not reach it, and
   * the group stops it in order. A test's process that is not detached gets the
   * terminal's Ctrl-C together with the test runner.
   */
  detached?: boolean;
}

export class Child {
  readonly name: string;
  readonly pid: number;
  readonly tier: number;
  readonly status: Promise<Deno.CommandStatus>;
  #process: Deno.ChildProcess;
  #tail: string[] = [];
  #waiters = new Set<() => void>();
  #exited = false;
  #lineHandlers: Array<(line: string) => void> = [];
  #stdin: WritableStreamDefaultWriter<Uint8Array> | undefined;

  constructor(opts: ChildOptions) {
    this.name = opts.name;
    this.tier = opts.tier ?? 0;
    this.#process = new Deno.Command(opts.command ?? Deno.execPath(), {
      args: opts.args,
      cwd: ROOT,
      env: { NO_COLOR: "1", ...opts.env },
      stdin: opts.stdinPipe ? "piped" : "null",
      stdout: "piped",
      stderr: "piped",
      detached: opts.detached ?? true,
    }).spawn();
    this.pid = this.#process.pid;
    if (opts.stdinPipe) this.#stdin = this.#process.stdin.getWriter();
    const file = opts.logFile
      ? Deno.openSync(opts.logFile, { create: true, write: true, truncate: true })
      : undefined;
    const encoder = new TextEncoder();
    const pump = async (stream: ReadableStream<Uint8Array>) => {
      const lines = stream.pipeThrough(new TextDecoderStream()).pipeThrough(new TextLineStream());
      for await (const line of lines) {
        file?.writeSync(encoder.encode(line + "\n"));
        this.#tail.push(line);
        if (this.#tail.length > 30) this.#tail.shift();
        for (const handle of this.#lineHandlers) handle(line);
        for (const wake of this.#waiters) wake();
      }
    };
    const pumps = Promise.all([pump(this.#process.stdout), pump(this.#process.stderr)]);
    this.status = this.#process.status.then(async (s) => {
      await pumps.catch(() => {});
      file?.close();
      this.#exited = true;
      for (const wake of this.#waiters) wake();
      return s;
    });
  }

  /** Writes a line to the child's stdin (when spawned with `stdinPipe`). */
  async writeLine(line: string): Promise<void> {
    if (!this.#stdin || this.#exited) return;
    await this.#stdin.write(new TextEncoder().encode(line + "\n")).catch(() => {});
  }

  get exited(): boolean {
    return this.#exited;
  }

  /** The last lines of output, for error messages. */
  tail(): string {
    return this.#tail.join("\n");
  }

  /** Calls `handle` with every output line from now on; returns the unsubscribe. */
  onLine(handle: (line: string) => void): () => void {
    this.#lineHandlers.push(handle);
    return () => {
      this.#lineHandlers = this.#lineHandlers.filter((h) => h !== handle);
    };
  }

  /**
   * Resolves with `probe()`'s first value, asked again after every output
   * line; rejects when the child exits or `timeoutMs` passes first (the
   * message names `what`, e.g. "ready line", and ends with the last lines of
   * output).
   */
  waitUntil<T>(probe: () => T | undefined, opts: { timeoutMs: number; what: string }): Promise<T> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const value = probe();
        if (value !== undefined) {
          done();
          resolve(value);
        } else if (this.#exited) {
          done();
          reject(new Error(`${this.name} exited before ${opts.what}:\n${this.tail()}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(
          new Error(
            `${this.name}: no ${opts.what} within ${opts.timeoutMs} ms:\n${this.tail()}`,
          ),
        );
      }, opts.timeoutMs);
      const done = () => {
        clearTimeout(timer);
        this.#waiters.delete(check);
      };
      this.#waiters.add(check);
      check();
    });
  }

  /** Resolves with the first output line (past or future) for which `parse` returns a value. */
  async waitForLine<T>(parse: (line: string) => T | undefined, timeoutMs = 60_000): Promise<T> {
    let found: T | undefined;
    for (const line of this.#tail) found ??= parse(line);
    const off = this.onLine((line) => found ??= parse(line));
    try {
      return await this.waitUntil(() => found, { timeoutMs, what: "ready line" });
    } finally {
      off();
    }
  }

  kill(signal: Deno.Signal): void {
    if (this.#exited) return;
    try {
      this.#process.kill(signal);
    } catch { /* already gone */ }
  }

  /** SIGTERM (or `signal`), then SIGKILL when it has not exited after `graceMs`. */
  async stop(graceMs: number, signal: Deno.Signal = "SIGTERM"): Promise<Deno.CommandStatus> {
    this.kill(signal);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<"late">((r) => timer = setTimeout(() => r("late"), graceMs));
    const first = await Promise.race([this.status, late]);
    clearTimeout(timer);
    if (first === "late") this.kill("SIGKILL");
    return await this.status;
  }
}

/**
 * Every child we started, stopped tier by tier (highest first), each tier in
 * parallel. A child can be made the group's watchdog: it is told every other
 * child's pid on its stdin ("+pid" / "-pid"), and stops them if we die
 * without stopping them ourselves (its stdin closes: even after a SIGKILL).
 */
export class ProcessGroup {
  #children = new Set<Child>();
  #graceMs: Record<number, number>;
  #watchdog: Child | undefined;

  constructor(graceMs: Record<number, number> = {}) {
    this.#graceMs = graceMs;
  }

  spawn(opts: ChildOptions & { watchdog?: boolean }): Child {
    const child = new Child({ ...opts, stdinPipe: opts.stdinPipe || opts.watchdog });
    this.#children.add(child);
    if (opts.watchdog) {
      this.#watchdog = child;
      // A replacement watchdog (a restarted database helper) learns who is already running.
      for (const other of this.#children) {
        if (other !== child) void child.writeLine(`+${other.pid}`);
      }
    } else void this.#watchdog?.writeLine(`+${child.pid}`);
    child.status.then(() => {
      this.#children.delete(child);
      // The current watchdog: the one told about this child may have been replaced since.
      if (this.#watchdog !== child) void this.#watchdog?.writeLine(`-${child.pid}`);
    });
    return child;
  }

  get children(): Child[] {
    return [...this.#children];
  }

  /** Stops one child and forgets it. */
  async stop(child: Child, signal: Deno.Signal = "SIGTERM"): Promise<Deno.CommandStatus> {
    const status = await child.stop(this.#graceMs[child.tier] ?? 5000, signal);
    this.#children.delete(child);
    return status;
  }

  async stopAll(): Promise<void> {
    const tiers = [...new Set(this.children.map((c) => c.tier))].sort((a, b) => b - a);
    for (const tier of tiers) {
      await Promise.all(this.children.filter((c) => c.tier === tier).map((c) => this.stop(c)));
    }
  }

  /** The emergency exit (a second Ctrl-C): SIGKILL everything now. */
  killAll(): void {
    for (const child of this.children) child.kill("SIGKILL");
  }

  /** SIGKILLs every child and waits until each has exited (a test's `finally`). */
  async reapAll(): Promise<void> {
    const children = this.children;
    this.killAll();
    await Promise.all(children.map((c) => c.status));
  }
}

/**
 * True while a process with this pid exists (signal 0 checks without
 * signalling). Deno refuses reads under /proc without --allow-all, so this is
 * what we have; our children are always reaped, so a zombie never lingers.
 */
export function alive(pid: number): boolean {
  try {
    Deno.kill(pid, 0 as unknown as Deno.Signal);
    return true;
  } catch {
    return false;
  }
}

/** Reads a file under /proc through `cat` (Deno allows /proc reads only with --allow-all). */
export async function readProcFile(path: string): Promise<string> {
  const out = await new Deno.Command("cat", { args: [path], stdout: "piped", stderr: "null" })
    .output();
  if (!out.success) throw new Error(`cannot read ${path}`);
  return new TextDecoder().decode(out.stdout);
}
