import assert from "node:assert/strict";
import { MAX_BODY_BYTES, readBody } from "../../src/services/read_body.ts";

Deno.test("readBody() parses JSON whatever the content-type says", async () => {
  assert.deepEqual(await readBody(new Response('{"capture_id":"c1"}')), { capture_id: "c1" });
  assert.deepEqual(
    await readBody(new Response("[1,2]", { headers: { "content-type": "text/plain" } })),
    [1, 2],
  );
});

Deno.test("readBody() falls back to text for bodies that are not JSON", async () => {
  assert.equal(await readBody(new Response("<h1>Bad gateway</h1>")), "<h1>Bad gateway</h1>");
  assert.equal(await readBody(new Response('{"broken":')), '{"broken":');
  const binary = await readBody(new Response(new Uint8Array([0xff, 0x00, 0xfe])));
  assert.equal(typeof binary, "string");
});

Deno.test("readBody() returns undefined for an empty body", async () => {
  assert.equal(await readBody(new Response(null, { status: 204 })), undefined);
  assert.equal(await readBody(new Response("")), undefined);
  assert.equal(await readBody(new Response("  \n")), undefined);
});

Deno.test("readBody() keeps at most MAX_BODY_BYTES and stops reading the rest", async () => {
  let pulled = 0;
  const endless = new ReadableStream<Uint8Array>({
    pull(controller) {
      pulled++;
      controller.enqueue(new TextEncoder().encode("a".repeat(1_000)));
    },
  });
  const body = await readBody(new Response(endless));
  assert.equal(body, "a".repeat(MAX_BODY_BYTES));
  assert.ok(pulled < 10, `pulled ${pulled} chunks`);
});

Deno.test("readBody() does not parse JSON that was cut off at the cap", async () => {
  const json = JSON.stringify({ data: "x".repeat(MAX_BODY_BYTES) });
  const body = await readBody(new Response(json));
  assert.equal(typeof body, "string");
  assert.equal((body as string).length, MAX_BODY_BYTES);
});

Deno.test("readBody() reads a body of declared length in one go, and caps one declared too long", async () => {
  // Over a real socket, so content-length is what the server sent.
  const bodies: Record<string, string> = {
    "/small": JSON.stringify({ reservation_id: "r1" }),
    "/large": JSON.stringify({ data: "y".repeat(2 * MAX_BODY_BYTES) }),
  };
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    (req) => new Response(bodies[new URL(req.url).pathname] ?? ""),
  );
  try {
    const base = `http://127.0.0.1:${server.addr.port}`;
    const small = await fetch(`${base}/small`);
    assert.equal(small.headers.get("content-length"), String(bodies["/small"]!.length));
    assert.deepEqual(await readBody(small), { reservation_id: "r1" });
    const large = await fetch(`${base}/large`);
    assert.ok(Number(large.headers.get("content-length")) > MAX_BODY_BYTES);
    const cut = await readBody(large);
    assert.equal(cut, bodies["/large"]!.slice(0, MAX_BODY_BYTES));
  } finally {
    await server.shutdown();
  }
});
