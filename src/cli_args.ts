// Option parsing shared by the command-line tools (demo, bench, chaos, saga):
// a bad option prints the reason and the usage and exits 2; --help prints the
// usage.
import { parseArgs, type ParseArgsConfig } from "node:util";
import { complain, say } from "./cli_output.ts";

type Options = NonNullable<ParseArgsConfig["options"]>;

/** Parses `args` against `options` (plus --help/-h), or exits; anything but an option is refused. */
export function parseCli<const O extends Options>(args: string[], options: O, usage: string) {
  return parse(args, options, usage, false).values;
}

/** As parseCli, and also returns the arguments that are not options (a command and its operands). */
export function parseCommandLine<const O extends Options>(
  args: string[],
  options: O,
  usage: string,
) {
  return parse(args, options, usage, true);
}

function parse<const O extends Options>(
  args: string[],
  options: O,
  usage: string,
  allowPositionals: boolean,
) {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      options: { ...options, help: { type: "boolean", short: "h" } },
      allowPositionals,
    });
  } catch (err) {
    complain(`${(err as Error).message}\n\n${usage}`);
    Deno.exit(2);
  }
  if ((parsed.values as { help?: boolean }).help) {
    say(usage);
    Deno.exit(0);
  }
  return {
    values: parsed.values as ReturnType<typeof parseArgs<{ options: O }>>["values"],
    positionals: parsed.positionals,
  };
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
