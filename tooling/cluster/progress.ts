// A live status line: rewritten in place with \r on a terminal, plain lines
// (at most one per `plainEveryMs`) otherwise.
import { say } from "../../src/cli_output.ts";
const encoder = new TextEncoder();

export class ProgressLine {
  #tty = Deno.stdout.isTerminal();
  #shown = false;
  #lastPlain = 0;

  constructor(private readonly plainEveryMs = 1000) {}

  get tty(): boolean {
    return this.#tty;
  }

  update(text: string, force = false): void {
    if (this.#tty) {
      const width = Deno.consoleSize?.().columns ?? 120;
      Deno.stdout.writeSync(encoder.encode(`\r\x1b[2K${text.slice(0, width - 1)}`));
      this.#shown = true;
    } else if (force || performance.now() - this.#lastPlain >= this.plainEveryMs) {
      this.#lastPlain = performance.now();
      say(text);
    }
  }

  /** Ends the line, so normal output can follow. */
  done(): void {
    if (this.#tty && this.#shown) Deno.stdout.writeSync(encoder.encode("\n"));
    this.#shown = false;
  }

  /** Prints a normal line without garbling the status line. */
  log(text: string): void {
    if (this.#tty && this.#shown) Deno.stdout.writeSync(encoder.encode("\r\x1b[2K"));
    say(text);
    this.#shown = false;
  }
}

/** Finished sagas per second over a sliding window. */
export class RateMeter {
  #samples: Array<{ at: number; value: number }> = [];

  constructor(private readonly windowMs = 3000) {}

  add(value: number, at = performance.now()): number {
    this.#samples.push({ at, value });
    while (this.#samples.length > 2 && at - this.#samples[0]!.at > this.windowMs) {
      this.#samples.shift();
    }
    const first = this.#samples[0]!;
    const seconds = (at - first.at) / 1000;
    return seconds > 0 ? (value - first.value) / seconds : 0;
  }
}
