// Traces through @opentelemetry/api: a span per claim cycle and a
// span per persisted saga transition; the downstream call spans live in
// src/services/http_client.ts. With no SDK registered these are no-ops; with
// Deno's built-in OpenTelemetry (OTEL_DENO=true) they export over OTLP.
//
// A transition span is emitted from the runner's onTransition hook, after the
// transition is persisted, so the runner stays free of tracing. It is a
// point-in-time span (the work it concludes has its own HTTP span); its
// parent is whatever is active in the saga's run, i.e. the claim cycle that
// started it.
import { type Span, SpanStatusCode, trace } from "@opentelemetry/api";
import type { SagaHooks, TransitionInfo } from "./engine/saga_runner.ts";
import type { CycleOutput } from "../machines/supervisor.ts";

const tracer = () => trace.getTracer("orchestrator");

export const CYCLE_SPAN = "orchestrator.claim_cycle";

/** Runs one claim cycle inside its span; the span ends when the cycle does. */
export function traceCycle(
  instanceId: string,
  run: () => Promise<CycleOutput>,
): Promise<CycleOutput> {
  return tracer().startActiveSpan(CYCLE_SPAN, {
    attributes: { "orchestrator.instance_id": instanceId },
  }, async (span: Span) => {
    try {
      const out = await run();
      span.setAttribute("orchestrator.more_work", out.more);
      return out;
    } catch (err) {
      span.recordException(err instanceof Error ? err : String(err));
      span.setStatus({ code: SpanStatusCode.ERROR, message: String(err) });
      throw err;
    } finally {
      span.end();
    }
  });
}

/** Counts for the active claim-cycle span (a no-op outside one). */
export function annotateCycle(counts: Record<string, number>): void {
  const span = trace.getActiveSpan();
  if (!span) return;
  for (const [k, v] of Object.entries(counts)) span.setAttribute(`orchestrator.${k}`, v);
}

export function recordTransition(info: TransitionInfo): void {
  const span = tracer().startSpan(`saga.transition ${info.name}`, {
    attributes: {
      "saga.order_id": info.orderId,
      "saga.machine_version": info.machineVersion,
      "saga.event": info.event.type,
      "saga.from": info.from,
      "saga.to": info.to,
    },
  });
  span.end();
}

/** `hooks` with a transition span added; a tracing failure never reaches the saga. */
export function withTransitionSpans<H extends SagaHooks>(hooks: H | undefined): H {
  const inner = hooks?.onTransition;
  return {
    ...(hooks ?? {} as H),
    onTransition(info: TransitionInfo) {
      try {
        recordTransition(info);
      } catch { /* tracing is best effort */ }
      inner?.call(hooks, info);
    },
  };
}
