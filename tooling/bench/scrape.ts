// Samples from an orchestrator's /metrics (Prometheus text), for figures only
// the engine itself can count (e.g. transitions per statement). A scrape runs
// one query on the orchestrator's database (the outbox gauge).
export async function scrapeSamples(adminUrl: string, series: string[]): Promise<number[]> {
  const lines = (await (await fetch(`${adminUrl}/metrics`)).text()).split("\n");
  return series.map((name) => {
    const line = lines.find((l) => l.startsWith(`${name} `));
    if (!line) throw new Error(`${adminUrl}/metrics has no sample ${name}`);
    return Number(line.slice(name.length + 1));
  });
}

/**
 * The sum of the samples of `series`: a bare metric name sums all its label
 * sets, a name with labels (`name{label="v"}`) is that series alone; 0 when
 * there is none yet.
 */
export async function scrapeSum(adminUrl: string, series: string): Promise<number> {
  return (await scrapeSums(adminUrl, [series]))[0]!;
}

/** scrapeSum of each of `series`, from one scrape. */
export async function scrapeSums(adminUrl: string, series: string[]): Promise<number[]> {
  const lines = (await (await fetch(`${adminUrl}/metrics`)).text()).split("\n");
  return series.map((name) =>
    lines
      .filter((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`))
      .reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(" ") + 1)), 0)
  );
}
