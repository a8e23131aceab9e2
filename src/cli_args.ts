// Option parsing shared by the command-line tools (demo, bench, chaos): a bad
// option prints the reason and the usage and exits 2; --help prints the usage.
import { parseArgs, type ParseArgsConfig } from "node:util";
import { complain, say } from "./cli_output.ts";

type Options = NonNullable<ParseArgsConfig["options"]>;

/** Parses `args` against `options` (plus --help/-h), or exits. */
export function parseCli<const O extends Options>(args: string[], options: O, usage: string) {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      options: { ...options, help: { type: "boolean", short: "h" } },
    });
  } catch (err) {
    complain(`${(err as Error).message}\n\n${usage}`);
    Deno.exit(2);
  }
  if ((parsed.values as { help?: boolean }).help) {
    say(usage);
    Deno.exit(0);
  }
  return parsed.values as ReturnType<typeof parseArgs<{ options: O }>>["values"];
}

/** An integer option reader: the fallback when absent, exit 2 when below `min` or not an integer. */
export function intOption(usage: string) {
  return (name: string, raw: string | undefined, fallback: number, min: number): number => {
    if (raw === undefined) return fallback;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min) {
      complain(`--${name}: expected an integer ≥ ${min}, got "${raw}"\n\n${usage}`);
      Deno.exit(2);
    }
    return n;
  };
}
