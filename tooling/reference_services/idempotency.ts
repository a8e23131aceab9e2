// Idempotency-Key handling shared by the three services: the first answer to a
// key is stored and replayed for every later request with that key, so the
// effect behind it happens once however often the orchestrator retries.
import { createHash } from "node:crypto";
import type { Context, MiddlewareHandler } from "hono";
import type { StatsRecorder } from "./stats.ts";

export const IDEMPOTENCY_HEADER = "Idempotency-Key";
/** Set on a response that was replayed from the store rather than produced afresh. */
export const REPLAYED_HEADER = "Idempotent-Replayed";

const MUTATING = new Set(["POST", "PUT", "PATCH", "DELETE"]);
const MAX_KEY_LENGTH = 255;

export interface StoredResponse {
  /** Method, path and canonical body of the first request: a key means one request. */
  fingerprint: string;
  status: number;
  body: string;
  contentType: string | null;
}

export class IdempotencyStore {
  #entries = new Map<string, StoredResponse>();
  #locks = new Map<string, Promise<void>>();

  get size(): number {
    return this.#entries.size;
  }

  get(key: string): StoredResponse | undefined {
    return this.#entries.get(key);
  }

  set(key: string, response: StoredResponse): void {
    this.#entries.set(key, response);
  }

  /** Runs `fn` once every earlier holder of `key` has finished: same-key requests queue up. */
  async withLock<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.#locks.get(key) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((resolve) => release = resolve);
    const tail = previous.then(() => mine);
    this.#locks.set(key, tail);
    await previous;
    try {
      return await fn();
    } finally {
      release();
      // Only the last in the queue removes the entry, so the map does not grow forever.
      if (this.#locks.get(key) === tail) this.#locks.delete(key);
    }
  }

  clear(): void {
    this.#entries.clear();
  }
}

/**
 * Sits inside fault injection: a request that reaches it does real work. Answers
 * below 500 produced by a handler (success or business rejection) are stored;
 * thrown errors (malformed bodies) and 5xx are not, so a corrected retry can succeed.
 */
export function idempotencyMiddleware(
  store: IdempotencyStore,
  stats: StatsRecorder,
): MiddlewareHandler {
  return async (c, next) => {
    const key = c.req.header(IDEMPOTENCY_HEADER);
    if (key === undefined || !MUTATING.has(c.req.method)) return await next();
    if (key.length === 0 || key.length > MAX_KEY_LENGTH) {
      return c.json({ error: "invalid_idempotency_key" }, 400);
    }
    const fingerprint = await fingerprintOf(c);
    return await store.withLock(key, async () => {
      const stored = store.get(key);
      if (stored) {
        // Same key, different request: a client bug worth surfacing (IETF idempotency draft: 422).
        if (stored.fingerprint !== fingerprint) {
          return c.json({ error: "idempotency_key_reused" }, 422);
        }
        stats.idempotentReplays++;
        return replay(stored);
      }
      await next();
      if (c.error === undefined && c.res.status < 500) {
        store.set(key, {
          fingerprint,
          status: c.res.status,
          body: await c.res.clone().text(),
          contentType: c.res.headers.get("content-type"),
        });
      }
    });
  };
}

function replay(stored: StoredResponse): Response {
  const headers = new Headers({ [REPLAYED_HEADER]: "true" });
  if (stored.contentType !== null) headers.set("content-type", stored.contentType);
  return new Response(stored.body, { status: stored.status, headers });
}

async function fingerprintOf(c: Context): Promise<string> {
  const text = await c.req.text();
  let body = text;
  try {
    // Key order and whitespace are not a different request.
    if (text.length > 0) body = canonicalJson(JSON.parse(text));
  } catch {
    // Not JSON: compare the raw text.
  }
  return createHash("sha256").update(`${c.req.method} ${c.req.path}\n${body}`).digest("base64");
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}
