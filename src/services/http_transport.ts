// One HTTP/1.1 request to a downstream service, over Deno's own TCP (or TLS)
// connections with a keep-alive pool per origin. A saga makes at least four
// requests, and node:http and fetch build a stack of stream, event and header
// objects for each: with them the client was about a third of the
// orchestrator's CPU per saga. Written straight to the socket, a request costs
// about 21 µs of CPU against 58 µs for node:http and 68 µs for fetch (same
// machine, same server), and the orchestrator's CPU per saga dropped by a sixth to
// a quarter (docs/performance.md). The response is read by http1_response.ts.
import { HttpProtocolError, readResponse, ResponseReader } from "./http1_response.ts";

export { HttpProtocolError };

export interface TransportRequest {
  url: string;
  method: string;
  headers: Record<string, string>;
  /** Already encoded; sent with its content-length. */
  body?: string;
  /** The whole exchange, connecting and the body included. */
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

/**
 * An idle connection is not used after this long: servers close idle
 * keep-alive connections (Node's default is after 5 s), and a request sent
 * just as they do would fail.
 */
const IDLE_MS = 4000;
/** Idle connections kept per origin; the adaptive limit bounds those in use. */
const MAX_IDLE = 256;

interface Connection {
  conn: Deno.Conn;
  reader: ResponseReader;
  idleSince: number;
  closed: boolean;
}

const pools = new Map<string, Connection[]>();
const encoder = new TextEncoder();

export async function send(req: TransportRequest): Promise<TransportResponse> {
  const url = new URL(req.url);
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new TypeError(`unsupported protocol "${url.protocol}" in ${req.url}`);
  }
  const request = encodeRequest(req, url);
  req.signal?.throwIfAborted();

  // Whatever stops the exchange closes the connection it is on, which ends
  // any read or write still pending there.
  let current: Connection | undefined;
  let stopped: unknown;
  const { promise: stop, reject: stopWith } = Promise.withResolvers<never>();
  stop.catch(() => {}); // a stop after the answer came matters to no one
  const halt = (reason: unknown) => {
    if (stopped !== undefined) return;
    stopped = reason;
    if (current) close(current);
    stopWith(reason);
  };
  const onAbort = () => halt(req.signal!.reason);
  const timer = setTimeout(
    () => halt(new RequestTimeoutError(`timeout after ${req.timeoutMs} ms`)),
    req.timeoutMs,
  );
  req.signal?.addEventListener("abort", onAbort, { once: true });

  const exchange = async (): Promise<TransportResponse> => {
    for (let tries = 1;; tries++) {
      const pooled = takeIdle(url.origin);
      const c = pooled ?? await connect(url);
      if (stopped !== undefined) {
        close(c);
        throw stopped;
      }
      current = c;
      c.reader.received = 0;
      try {
        await writeAll(c.conn, request);
        const res = await readResponse(c.reader, req.method, req.maxBodyBytes);
        current = undefined;
        if (res.reusable) putIdle(url.origin, c);
        else close(c);
        return {
          status: res.status,
          header: (name) => res.headers.get(name),
          bytes: res.body,
        };
      } catch (err) {
        close(c);
        if (stopped !== undefined) throw stopped;
        // A kept-alive connection the server had just closed: nothing of the
        // request was answered, so send it once more on a new connection (the
        // Idempotency-Key makes a second delivery harmless anyway).
        if (pooled && tries === 1 && c.reader.received === 0) continue;
        throw err;
      }
    }
  };

  const result = exchange();
  result.catch(() => {}); // once stopped, its own failure is of no interest
  try {
    return await Promise.race([result, stop]);
  } finally {
    clearTimeout(timer);
    req.signal?.removeEventListener("abort", onAbort);
  }
}

function encodeRequest(req: TransportRequest, url: URL): Uint8Array {
  let head = `${req.method} ${url.pathname}${url.search} HTTP/1.1\r\nhost: ${url.host}\r\n`;
  for (const [name, value] of Object.entries(req.headers)) {
    if (/[\r\n]/.test(name) || /[\r\n]/.test(value)) {
      throw new TypeError(`header "${name.slice(0, 40)}" contains a line break`);
    }
    head += `${name}: ${value}\r\n`;
  }
  const body = req.body === undefined ? undefined : encoder.encode(req.body);
  if (body !== undefined || (req.method !== "GET" && req.method !== "HEAD")) {
    head += `content-length: ${body?.byteLength ?? 0}\r\n`;
  }
  head += "\r\n";
  if (body === undefined) return encoder.encode(head);
  const headBytes = encoder.encode(head);
  const out = new Uint8Array(headBytes.byteLength + body.byteLength);
  out.set(headBytes);
  out.set(body, headBytes.byteLength);
  return out;
}

async function connect(url: URL): Promise<Connection> {
  const hostname = url.hostname.replace(/^\[(.*)\]$/, "$1"); // IPv6 literal
  const conn = url.protocol === "https:"
    ? await Deno.connectTls({ hostname, port: Number(url.port || 443) })
    : await Deno.connect({ hostname, port: Number(url.port || 80) });
  if ("setNoDelay" in conn) conn.setNoDelay(true);
  return { conn, reader: new ResponseReader(conn), idleSince: 0, closed: false };
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  for (let at = 0; at < bytes.byteLength;) at += await conn.write(bytes.subarray(at));
}

function takeIdle(origin: string): Connection | undefined {
  const idle = pools.get(origin);
  const now = performance.now();
  for (let c = idle?.pop(); c; c = idle?.pop()) {
    if (c.closed) continue;
    if (now - c.idleSince > IDLE_MS) {
      close(c);
      continue;
    }
    c.conn.ref();
    return c;
  }
  return undefined;
}

function putIdle(origin: string, c: Connection): void {
  let idle = pools.get(origin);
  if (idle === undefined) pools.set(origin, idle = []);
  if (idle.length >= MAX_IDLE) return close(c);
  c.idleSince = performance.now();
  idle.push(c);
  // An idle connection must not keep the process alive, and must not stay
  // pooled once the server has closed it (or sent something unasked): the
  // read started here sees both, and otherwise carries the next response.
  c.conn.unref();
  const since = c.idleSince;
  c.reader.prefetch().then(
    () => {
      if (c.idleSince === since && idle.includes(c)) close(c);
    },
    () => close(c),
  );
}

function close(c: Connection): void {
  if (c.closed) return;
  c.closed = true;
  try {
    c.conn.close();
  } catch {
    // Already closed by the runtime.
  }
}

/** Closes every idle pooled connection (tests, shutdown). */
export function closeIdleConnections(): void {
  for (const idle of pools.values()) for (const c of idle.splice(0)) close(c);
}
