// One HTTP request to a downstream service over node:http with a keep-alive
// pool per origin. Measured against Deno's fetch in the same process, it costs
// ~15–25 µs less CPU per request (no Request/Headers/stream objects, no
// dependent abort signals), and a saga makes at least four requests.
import http from "node:http";
import https from "node:https";

export interface TransportRequest {
  url: string;
  method: string;
  headers: Record<string, string>;
  /** Already encoded; sent with its content-length. */
  body?: string;
  /** The whole exchange, headers and body included. */
  timeoutMs: number;
  /** The caller's cancellation; the request rejects with its reason. */
  signal?: AbortSignal;
  /** Bytes of body to keep; a longer body is cut there and its connection closed. */
  maxBodyBytes: number;
}

export interface TransportResponse {
  status: number;
  /** A response header by lower-case name (the last one if repeated). */
  header(name: string): string | undefined;
  /** The body's bytes, at most maxBodyBytes + 1 (one more tells it was cut). */
  bytes: Uint8Array;
}

/** The exchange took longer than timeoutMs. */
export class RequestTimeoutError extends Error {
  override name = "TimeoutError";
}

const agents = new Map<string, http.Agent>();

function agentFor(url: URL): http.Agent {
  let agent = agents.get(url.origin);
  if (agent === undefined) {
    // keepAlive: a saga's four calls reuse warm connections; the adaptive
    // limit already bounds how many are open at once.
    const options = { keepAlive: true, keepAliveMsecs: 1000, scheduling: "lifo" as const };
    agent = url.protocol === "https:" ? new https.Agent(options) : new http.Agent(options);
    agents.set(url.origin, agent);
  }
  return agent;
}

export function send(req: TransportRequest): Promise<TransportResponse> {
  const url = new URL(req.url);
  const client = url.protocol === "https:" ? https : http;
  return new Promise<TransportResponse>((resolve, reject) => {
    let settled = false;
    const headers: Record<string, string | number> = { ...req.headers };
    if (req.body !== undefined) headers["content-length"] = Buffer.byteLength(req.body);
    const request = client.request(url, { method: req.method, headers, agent: agentFor(url) });
    const finish = (err: unknown, value?: TransportResponse) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.signal?.removeEventListener("abort", onAbort);
      if (err === undefined) resolve(value!);
      else reject(err);
    };
    const fail = (err: unknown) => {
      finish(err);
      // A connection with an unread or half-sent exchange is never reused.
      request.destroy();
    };
    const onAbort = () => fail(req.signal!.reason);
    const timer = setTimeout(
      () => fail(new RequestTimeoutError(`timeout after ${req.timeoutMs} ms`)),
      req.timeoutMs,
    );
    if (req.signal?.aborted) return onAbort();
    req.signal?.addEventListener("abort", onAbort, { once: true });
    request.on("error", (err) => finish(err));
    request.on("response", (res) => {
      const chunks: Uint8Array[] = [];
      let size = 0;
      res.on("data", (chunk: Uint8Array) => {
        if (size > req.maxBodyBytes) return;
        chunks.push(chunk);
        size += chunk.byteLength;
        if (size > req.maxBodyBytes) {
          // Enough to tell it was cut: stop downloading, drop the connection.
          done();
          res.destroy();
        }
      });
      res.on("error", (err) => finish(err));
      const done = () => {
        const bytes = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
        finish(undefined, {
          status: res.statusCode ?? 0,
          header: (name) => {
            const v = res.headers[name];
            return Array.isArray(v) ? v[v.length - 1] : v;
          },
          bytes: bytes.subarray(0, req.maxBodyBytes + 1),
        });
      };
      res.on("end", done);
    });
    request.end(req.body);
  });
}
