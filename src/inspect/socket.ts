// The WebSocket leg of the inspector: sends Stately inspection frames (JSON)
// to a relay such as `deno task inspect-relay`.
//
// @statelyai/inspect's own createWebSocketInspector has the same protocol,
// but its reconnect timer cannot be cancelled: after stop() a pending retry
// opens a new socket, which keeps a stopping process (or a test) alive. This
// adapter keeps its behaviour (queue up to 200 frames while disconnected,
// retry every 5 s) and adds a stop() that really stops. The timers are
// unref'd, so an unreachable relay never holds the process open.
import type { StatelyInspectionEvent } from "@statelyai/inspect";
import type { Logger } from "../log.ts";

export interface SocketAdapterOptions {
  url: string;
  logger: Logger;
  /** Frames kept while disconnected; the oldest are dropped first. */
  maxQueued?: number;
  retryMs?: number;
}

export interface SocketAdapter {
  start(): void;
  send(frame: StatelyInspectionEvent): void;
  /** Resolves true once connected, false if not within `timeoutMs`. */
  ready(timeoutMs: number): Promise<boolean>;
  /** Closes the socket; resolves once it is closed. Nothing is sent afterwards. */
  stop(): Promise<void>;
}

export function createSocketAdapter(opts: SocketAdapterOptions): SocketAdapter {
  const maxQueued = opts.maxQueued ?? 200;
  const retryMs = opts.retryMs ?? 5_000;
  const log = opts.logger.child({ component: "inspector" });
  const queue: string[] = [];
  let ws: WebSocket | undefined;
  let retry: ReturnType<typeof setTimeout> | undefined;
  let stopped = false;
  let failures = 0;
  let closed: Promise<void> = Promise.resolve();
  const waiting = new Set<(open: boolean) => void>();

  function connect() {
    retry = undefined;
    if (stopped) return;
    const socket = new WebSocket(opts.url);
    ws = socket;
    closed = new Promise((resolve) => socket.addEventListener("close", () => resolve()));
    socket.onopen = () => {
      failures = 0;
      log.info({ url: opts.url }, "Connected to the inspector relay");
      for (const frame of queue.splice(0)) socket.send(frame);
      for (const resolve of waiting) resolve(true);
    };
    socket.onerror = () => {}; // close follows; reported there
    socket.onclose = () => {
      if (ws === socket) ws = undefined;
      if (stopped) return;
      // Said once at warn level; the endless retries only at debug.
      (failures++ === 0 ? log.warn : log.debug).call(
        log,
        { url: opts.url, retry_ms: retryMs },
        "Inspector relay not reachable; retrying",
      );
      const timer = setTimeout(connect, retryMs);
      Deno.unrefTimer(timer);
      retry = timer;
    };
  }

  return {
    start: connect,
    send(frame) {
      if (stopped) return;
      let text: string;
      try {
        text = JSON.stringify(frame);
      } catch (err) {
        log.debug({ err: String(err) }, "Inspection frame not serialisable; dropped");
        return;
      }
      if (ws?.readyState === WebSocket.OPEN) return ws.send(text);
      queue.push(text);
      if (queue.length > maxQueued) queue.shift();
    },
    ready(timeoutMs) {
      if (ws?.readyState === WebSocket.OPEN) return Promise.resolve(true);
      return new Promise((resolve) => {
        const done = (open: boolean) => {
          clearTimeout(timer);
          waiting.delete(done);
          resolve(open);
        };
        const timer = setTimeout(() => done(false), timeoutMs);
        waiting.add(done);
      });
    },
    async stop() {
      stopped = true;
      clearTimeout(retry);
      queue.length = 0;
      for (const resolve of waiting) resolve(false);
      // Let what was already sent leave before the close frame.
      for (let i = 0; i < 50 && ws?.readyState === WebSocket.OPEN && ws.bufferedAmount > 0; i++) {
        await new Promise((r) => setTimeout(r, 20));
      }
      if (ws && ws.readyState !== WebSocket.CLOSED) ws.close();
      await closed;
    },
  };
}
