// One sample from an orchestrator's /metrics (Prometheus text), for figures
// only the engine itself can count (e.g. transitions per statement).
export async function scrapeSample(adminUrl: string, series: string): Promise<number> {
  const text = await (await fetch(`${adminUrl}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  if (!line) throw new Error(`${adminUrl}/metrics has no sample ${series}`);
  return Number(line.slice(series.length + 1));
}
