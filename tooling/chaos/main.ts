// `deno task chaos`: the orchestrator under fire (tooling/chaos/run.ts), then the
// summary; exit 0 when no invariant was violated, 1 otherwise.
//
//   deno task chaos [--orders 1000] [--seed N] [--out .data/chaos/summary.json]
//
// Ctrl-C exits at once; the database helper, which is told every child's pid,
// then stops the orchestrators, the services and PostgreSQL.
import { parseChaosArgs } from "./args.ts";
import { runChaos } from "./run.ts";
import { renderChaosSummary } from "./summary.ts";
import { complain, say } from "../../src/cli_output.ts";

async function main(): Promise<number> {
  const { out, ...opts } = parseChaosArgs(Deno.args);
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    Deno.addSignalListener(signal, () => {
      say(`${signal}: exiting; the database helper stops every process`);
      Deno.exit(130);
    });
  }
  const t0 = performance.now();
  const at = () => `[${((performance.now() - t0) / 1000).toFixed(1).padStart(6)} s]`;
  say(
    `Chaos run: ${opts.orders} orders, ${opts.instances} instances, seed ${opts.seed}`,
  );
  const summary = await runChaos({
    ...opts,
    log: (line) => say(`${at()} ${line}`),
  });
  say(renderChaosSummary(summary));
  if (out) {
    await Deno.writeTextFile(out, JSON.stringify(summary, null, 2) + "\n");
    say(`  summary written to ${out}`);
  }
  return summary.violationCount === 0 ? 0 : 1;
}

try {
  Deno.exit(await main());
} catch (err) {
  complain(`Chaos run failed: ${err instanceof Error ? err.stack ?? err.message : err}`);
  Deno.exit(1);
}
