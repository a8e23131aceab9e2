// Executes one saga step against its downstream service: one HTTP attempt,
// traced, bounded by a timeout, classified into a StepOutput. Retrying is the
// machine's job; this only tells it how long to wait.

import {
  type Context,
  context,
  isSpanContextValid,
  propagation,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
} from "@opentelemetry/api";
import type { SagaDefinition, StepDefinition, StepOutput } from "../../machines/saga_definition.ts";
import { retryDelayMs, type RetryPolicy } from "./backoff.ts";
import { type ClassifiedResponse, classifyResponse } from "./classify.ts";
import { decodeBody, MAX_BODY_BYTES } from "./read_body.ts";
import { RequestTimeoutError, send } from "./http_transport.ts";
import { buildStepRequest, type ServiceUrls, type StepRequest } from "./step_requests.ts";

/** One call of a step: which saga, which step, with the input its machine computed. */
export interface StepCall {
  orderId: string;
  step: string;
  input: unknown;
}

export interface CallStepOptions {
  /** Declares the step: its service, request and classification. */
  definition: SagaDefinition;
  urls: ServiceUrls;
  /** Whole attempt, headers and body included. */
  timeoutMs: number;
  /** 0 for the first attempt of this step; drives the backoff. */
  attempt: number;
  retry: RetryPolicy;
  /** The caller's cancellation (shutdown); its abort is rethrown, never classified. */
  signal?: AbortSignal;
  random?: () => number;
  now?: () => number;
}

type Attempt = ClassifiedResponse | { outcome: "transient"; reason: string; retryAfterMs?: never };

const MAX_ERROR_LENGTH = 200;

/**
 * One attempt of `call.step`. Resolves with the outcome for every HTTP-level
 * problem (status, timeout, refused connection); rejects only with the
 * caller's abort reason.
 */
export async function callStep(call: StepCall, opts: CallStepOptions): Promise<StepOutput> {
  opts.signal?.throwIfAborted();
  const step = opts.definition.steps[call.step];
  if (!step) throw new TypeError(`saga "${opts.definition.name}" has no step "${call.step}"`);
  const request = buildStepRequest(step, call.input, opts.urls);
  const span = trace.getTracer("orchestrator").startSpan(`HTTP ${request.method} ${call.step}`, {
    kind: SpanKind.CLIENT,
    attributes: {
      "http.request.method": request.method,
      "url.full": request.url,
      "saga.step": call.step,
      "saga.order_id": call.orderId,
    },
  });
  try {
    const result = await attempt(call, step, request, span, opts);
    if (result.outcome !== "ok") {
      span.setStatus({ code: SpanStatusCode.ERROR, message: result.reason });
    }
    if (result.outcome !== "transient") return result;
    const { retryAfterMs, ...rest } = result;
    return {
      ...rest,
      retryInMs: retryDelayMs(opts.attempt, opts.retry, retryAfterMs, opts.random),
    };
  } finally {
    span.end();
  }
}

async function attempt(
  call: StepCall,
  step: StepDefinition,
  request: StepRequest,
  span: Span,
  opts: CallStepOptions,
): Promise<Attempt> {
  const spanContext = trace.setSpan(context.active(), span);
  const headers: Record<string, string> = {
    "content-type": "application/json",
    accept: "application/json",
    // The service deduplicates on this: identical on every attempt, instance and restart.
    "Idempotency-Key": `${call.orderId}:${call.step}`,
  };
  injectTraceContext(spanContext, span, headers);
  try {
    // The transport reads no trace context: the span travels as the traceparent header.
    const response = await send({
      url: request.url,
      method: request.method,
      headers,
      body: request.body === undefined ? undefined : JSON.stringify(request.body),
      timeoutMs: opts.timeoutMs,
      signal: opts.signal,
      maxBodyBytes: MAX_BODY_BYTES,
    });
    span.setAttribute("http.response.status_code", response.status);
    const result = classifyResponse(
      step,
      response.status,
      decodeBody(response.bytes),
      response.header("retry-after"),
      (opts.now ?? Date.now)(),
    );
    if (result.outcome !== "ok") span.setAttribute("error.type", String(response.status));
    return result;
  } catch (error) {
    if (opts.signal?.aborted) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: "aborted by caller" });
      throw opts.signal.reason;
    }
    span.recordException(error instanceof Error ? error : String(error));
    span.setAttribute("error.type", error instanceof Error ? error.name : "Error");
    return { outcome: "transient", reason: describeFailure(error, opts.timeoutMs) };
  }
}

/**
 * Without a registered propagator (no SDK, no OTEL_DENO) inject is a no-op;
 * a valid span context still deserves a traceparent so services can correlate.
 */
function injectTraceContext(ctx: Context, span: Span, headers: Record<string, string>): void {
  propagation.inject(ctx, headers);
  const sc = span.spanContext();
  if (headers.traceparent === undefined && isSpanContextValid(sc)) {
    const flags = (sc.traceFlags & 0xff).toString(16).padStart(2, "0");
    headers.traceparent = `00-${sc.traceId}-${sc.spanId}-${flags}`;
  }
}

function describeFailure(error: unknown, timeoutMs: number): string {
  if (error instanceof RequestTimeoutError) {
    return `timeout after ${timeoutMs} ms`;
  }
  const message = error instanceof Error ? error.message : String(error);
  return `network error: ${message}`.slice(0, MAX_ERROR_LENGTH);
}
