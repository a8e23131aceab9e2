// Runs the orchestrator as a real process, with exactly the permissions of
// the `start` task in deno.json, and collects its JSON log lines.
import { TextLineStream } from "../../src/text_lines.ts";

const ROOT = new URL("../../", import.meta.url);

/** `deno run <flags> src/main.ts`, taken from the start task so tests use the same least privilege. */
export function startCommandArgs(): string[] {
  const deno = JSON.parse(Deno.readTextFileSync(new URL("deno.json", ROOT)));
  const cmd: string = typeof deno.tasks.start === "string"
    ? deno.tasks.start
    : deno.tasks.start.command;
  return cmd.split(/\s+/).slice(1); // drop "deno"
}

export interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

export interface OrchestratorProcess {
  pid: number;
  logs: LogLine[];
  /** Raw stdout/stderr lines that were not JSON. */
  other: string[];
  waitForLog(match: (l: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
  kill(signal?: Deno.Signal): void;
  status: Promise<Deno.CommandStatus>;
}

export function startOrchestratorProcess(env: Record<string, string>): OrchestratorProcess {
  const child = new Deno.Command(Deno.execPath(), {
    args: startCommandArgs(),
    cwd: ROOT,
    env: { LOG_LEVEL: "info", ADMIN_PORT: "0", NO_COLOR: "1", ...env },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const logs: LogLine[] = [];
  const other: string[] = [];
  const waiters = new Set<() => void>();
  const pump = async (stream: ReadableStream<Uint8Array>) => {
    for await (
      const line of stream.pipeThrough(new TextDecoderStream()).pipeThrough(new TextLineStream())
    ) {
      try {
        const parsed = JSON.parse(line);
        if (parsed && typeof parsed.msg === "string") logs.push(parsed);
        else other.push(line);
      } catch {
        other.push(line);
      }
      for (const w of waiters) w();
    }
  };
  const pumps = Promise.all([pump(child.stdout), pump(child.stderr)]);
  const status = child.status.then(async (s) => {
    await pumps;
    for (const w of waiters) w();
    return s;
  });
  let exited = false;
  status.then(() => exited = true);
  return {
    pid: child.pid,
    logs,
    other,
    status,
    kill: (signal: Deno.Signal = "SIGTERM") => {
      try {
        child.kill(signal);
      } catch { /* already gone */ }
    },
    waitForLog(match, timeoutMs = 20_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const found = logs.find(match);
          if (found) {
            done();
            resolve(found);
          } else if (exited) {
            done();
            reject(new Error(`Process exited before the log line appeared:\n${tail()}`));
          }
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`Timed out waiting for a log line:\n${tail()}`));
        }, timeoutMs);
        const done = () => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      });
    },
  };
  function tail() {
    return [...logs.slice(-15).map((l) => JSON.stringify(l)), ...other.slice(-10)].join("\n");
  }
}
