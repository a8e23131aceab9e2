// Turns a step's request, as its saga definition builds it (machines/), into
// an absolute one: the step names its service by a logical name ("orders",
// "payments", or a test saga's own), and configuration maps each to a base URL.
// Pure.
import type {
  StepDefinition,
  StepRequest as RelativeRequest,
} from "../../machines/saga_definition.ts";

/** Base URLs by logical service name, with or without a trailing slash. */
export type ServiceUrls = Readonly<Record<string, string>>;

export type ServiceName = string;

export interface StepRequest {
  method: RelativeRequest["method"];
  url: string;
  /** JSON-serialisable; absent when the request has no body. */
  body?: unknown;
}

export function buildStepRequest(
  step: StepDefinition,
  input: unknown,
  urls: ServiceUrls,
): StepRequest {
  const base = urls[step.service];
  if (base === undefined) {
    throw new TypeError(`no base URL is configured for service "${step.service}"`);
  }
  const { method, path, body } = step.request(input);
  const url = join(base, path);
  return body === undefined ? { method, url } : { method, url, body };
}

/** Keeps any path prefix of the base URL (e.g. behind a gateway) instead of resolving from "/". */
function join(base: string, path: string): string {
  return base.replace(/\/+$/, "") + path;
}
