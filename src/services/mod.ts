// The downstream step client: what the step executor needs, nothing more.

export { callStep, type CallStepOptions, type StepCall } from "./http_client.ts";
export { retryDelayMs, type RetryPolicy } from "./backoff.ts";
export {
  type ClassifiedResponse,
  classifyResponse,
  defaultClassification,
  parseRetryAfter,
} from "./classify.ts";
export {
  buildStepRequest,
  type ServiceName,
  type ServiceUrls,
  type StepRequest,
} from "./step_requests.ts";
export { AdaptiveLimit, type AdaptiveLimitOptions } from "./adaptive_limit.ts";
export { decodeBody, MAX_BODY_BYTES } from "./read_body.ts";
