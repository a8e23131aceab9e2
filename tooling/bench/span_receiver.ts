// Claim-cycle durations out of a running orchestrator, with no change to it:
// the orchestrator already makes a span per claim cycle (src/telemetry.ts),
// and Deno's built-in OpenTelemetry exports spans over OTLP/HTTP JSON when
// OTEL_DENO=true. This is a minimal OTLP receiver in the benchmark's own
// process that keeps the durations of the spans named `spanName` and
// acknowledges everything else (other spans, logs, metrics) unread.
//
// Exporting costs the orchestrator CPU (every span of every saga goes out),
// so a run that exports is not a run whose throughput is measured.

interface OtlpSpan {
  name?: string;
  startTimeUnixNano?: string | number;
  endTimeUnixNano?: string | number;
}

interface OtlpTraces {
  resourceSpans?: { scopeSpans?: { spans?: OtlpSpan[] }[] }[];
}

export interface SpanReceiver {
  /** Environment for the exporting process (Deno's built-in OpenTelemetry). */
  env: Record<string, string>;
  /**
   * Durations in milliseconds of the matching spans received so far that
   * started within [fromMs, toMs] (epoch milliseconds). Spans arrive in
   * batches, one a second, and the rest when the process exits: ask once it
   * has stopped.
   */
  durations(fromMs: number, toMs: number): number[];
  close(): Promise<void>;
}

const NS_PER_MS = 1_000_000n;
const epochMs = (ns: string | number | undefined) => Number(BigInt(ns ?? 0) / 1000n) / 1000;
const durationMs = (s: OtlpSpan) =>
  Number((BigInt(s.endTimeUnixNano ?? 0) - BigInt(s.startTimeUnixNano ?? 0)) * 1000n / NS_PER_MS) /
  1000;

export function startSpanReceiver(spanName: string): SpanReceiver {
  const spans: { startMs: number; ms: number }[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    if (new URL(req.url).pathname === "/v1/traces") {
      const body = await req.json().catch(() => ({})) as OtlpTraces;
      for (const resource of body.resourceSpans ?? []) {
        for (const scope of resource.scopeSpans ?? []) {
          for (const span of scope.spans ?? []) {
            if (span.name !== spanName) continue;
            spans.push({ startMs: epochMs(span.startTimeUnixNano), ms: durationMs(span) });
          }
        }
      }
    } else {
      await req.body?.cancel();
    }
    return new Response("{}", { headers: { "content-type": "application/json" } });
  });
  return {
    env: {
      OTEL_DENO: "true",
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${server.addr.port}`,
      OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
      // Batches leave every second, so a run's spans are here soon after it ends.
      OTEL_BSP_SCHEDULE_DELAY: "1000",
      OTEL_SERVICE_NAME: "orchestrator-bench",
    },
    durations(fromMs, toMs) {
      return spans.filter((s) => s.startMs >= fromMs && s.startMs <= toMs).map((s) => s.ms);
    },
    async close() {
      await server.shutdown();
    },
  };
}
