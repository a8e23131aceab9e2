import assert from "node:assert/strict";
import { RequestTimeoutError, send } from "../../src/services/http_transport.ts";

function serve(
  handler: (req: Request, info: Deno.ServeHandlerInfo) => Response | Promise<Response>,
) {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, handler);
  return { base: `http://127.0.0.1:${server.addr.port}`, shutdown: () => server.shutdown() };
}

const request = (url: string, extra: Partial<Parameters<typeof send>[0]> = {}) =>
  send({
    url,
    method: "POST",
    headers: {},
    body: "{}",
    timeoutMs: 2000,
    maxBodyBytes: 64,
    ...extra,
  });

Deno.test("send() reuses a warm connection for the next request to the same service", async () => {
  const ports: number[] = [];
  const s = serve((_req, info) => {
    ports.push((info.remoteAddr as Deno.NetAddr).port);
    return Response.json({ ok: true });
  });
  try {
    for (let i = 0; i < 3; i++) {
      const res = await request(`${s.base}/x`);
      assert.equal(res.status, 200);
      assert.equal(new TextDecoder().decode(res.bytes), '{"ok":true}');
    }
    assert.equal(new Set(ports).size, 1, `client ports ${ports}`);
  } finally {
    await s.shutdown();
  }
});

Deno.test("send() stops reading a body past maxBodyBytes: one byte more tells it was cut", async () => {
  const cancelled = Promise.withResolvers<void>();
  const s = serve(() =>
    new Response(
      new ReadableStream<Uint8Array>({
        pull(controller) {
          controller.enqueue(new TextEncoder().encode("a".repeat(1000)));
        },
        cancel: () => cancelled.resolve(),
      }),
    )
  );
  try {
    const res = await request(`${s.base}/endless`);
    assert.equal(res.bytes.byteLength, 65);
    // The client hung up: the server's endless stream is cancelled, not sent forever.
    await cancelled.promise;
  } finally {
    await s.shutdown();
  }
});

Deno.test("send() rejects a hung exchange after timeoutMs, and with the caller's reason on abort", async () => {
  const hang = Promise.withResolvers<void>();
  const s = serve(async () => {
    await hang.promise;
    return new Response("late");
  });
  try {
    await assert.rejects(request(`${s.base}/hang`, { timeoutMs: 50 }), RequestTimeoutError);
    const controller = new AbortController();
    const pending = request(`${s.base}/hang`, { signal: controller.signal });
    controller.abort(new Error("shutting down"));
    await assert.rejects(pending, /shutting down/);
  } finally {
    hang.resolve();
    await s.shutdown();
  }
});
