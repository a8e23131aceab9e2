// Request parsing and error answers shared by the services: every bad input
// becomes a JSON {error} with a 4xx status, never a 500 with a stack trace.
import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { z } from "zod";

/** What a domain operation answers; the handler turns it into JSON. */
export interface Outcome {
  status: ContentfulStatusCode;
  body: Record<string, unknown>;
}

/** Aborts the request with a JSON error. Thrown errors are never stored for idempotency. */
export function fail(status: ContentfulStatusCode, body: { error: string }): never {
  throw new HTTPException(status, { message: body.error, res: Response.json(body) });
}

/** Parses the body as JSON (empty means `{}`): 400 when it is not JSON, 422 when it breaks the schema. */
export async function readJson<T>(c: Context, schema: z.ZodType<T>): Promise<T> {
  const text = await c.req.text();
  let raw: unknown = {};
  if (text.trim().length > 0) {
    try {
      raw = JSON.parse(text);
    } catch {
      fail(400, { error: "invalid_json" });
    }
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((issue) => ({
      path: issue.path.map(String).join("."),
      message: issue.message,
    }));
    throw new HTTPException(422, {
      message: "invalid_body",
      res: Response.json({ error: "invalid_body", issues }),
    });
  }
  return parsed.data;
}

export function respond(c: Context, outcome: Outcome): Response {
  return c.json(outcome.body, outcome.status);
}

export function handleError(err: Error, c: Context): Response {
  if (err instanceof HTTPException) {
    if (err.res) return err.getResponse();
    return c.json({ error: err.message || "request_failed" }, err.status);
  }
  // Unexpected: say so without leaking internals.
  return c.json({ error: "internal_error" }, 500);
}

export function handleNotFound(c: Context): Response {
  return c.json({ error: "not_found" }, 404);
}
