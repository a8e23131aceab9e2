// Terminal output of the command-line tools (demo, bench, chaos, sandbox,
// tools). The orchestrator itself logs JSON lines through src/log.ts; these
// print for a person reading a terminal.
import process from "node:process";

export function say(...parts: unknown[]): void {
  process.stdout.write(parts.map(String).join(" ") + "\n");
}

export function complain(...parts: unknown[]): void {
  process.stderr.write(parts.map(String).join(" ") + "\n");
}
