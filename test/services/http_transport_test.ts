import assert from "node:assert/strict";
import {
  closeIdleConnections,
  HttpProtocolError,
  RequestTimeoutError,
  send,
} from "../../src/services/http_transport.ts";

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

// The cases below script the server's bytes exactly, on a plain TCP listener,
// to check the framing rules a JSON service can legitimately use.

/** A TCP server that hands each accepted connection (numbered from 0) to `onConn`. */
function rawServer(onConn: (conn: Deno.Conn, index: number) => Promise<void>) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const tasks: Promise<void>[] = [];
  let accepted = 0;
  const loop = (async () => {
    for await (const conn of listener) {
      tasks.push(
        onConn(conn, accepted++).catch(() => {}).finally(() => {
          try {
            conn.close();
          } catch { /* closed by the handler */ }
        }),
      );
    }
  })();
  return {
    base: `http://127.0.0.1:${listener.addr.port}`,
    accepted: () => accepted,
    async close() {
      listener.close();
      await loop.catch(() => {});
      await Promise.all(tasks);
    },
  };
}

/** Runs `body` against a rawServer, then closes it and the client's idle connections. */
async function withRawServer(
  onConn: (conn: Deno.Conn, index: number) => Promise<void>,
  body: (s: ReturnType<typeof rawServer>) => Promise<void>,
) {
  const s = rawServer(onConn);
  try {
    await body(s);
  } finally {
    closeIdleConnections();
    await s.close();
  }
}

const encoder = new TextEncoder();
const write = (conn: Deno.Conn, text: string) => conn.write(encoder.encode(text));

/** Reads one request (head and content-length body); null when the client closed. */
async function readRequest(conn: Deno.Conn): Promise<string | null> {
  let text = "";
  const buf = new Uint8Array(4096);
  for (;;) {
    const end = text.indexOf("\r\n\r\n");
    if (end >= 0) {
      const length = Number(/content-length: (\d+)/i.exec(text.slice(0, end))?.[1] ?? 0);
      if (text.length >= end + 4 + length) return text;
    }
    const n = await conn.read(buf);
    if (n === null) return null;
    text += new TextDecoder().decode(buf.subarray(0, n));
  }
}

const bodyOf = (res: { bytes: Uint8Array }) => new TextDecoder().decode(res.bytes);

Deno.test("send() reads a chunked body (extensions and trailers too), then reuses the connection", async () => {
  await withRawServer(async (conn) => {
    while (await readRequest(conn) !== null) {
      await write(
        conn,
        "HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\nX-Id: a\r\nx-id: b\r\n\r\n" +
          '5;name=v\r\n{"ok"\r\nb\r\n:true,"n":1\r\n1\r\n}\r\n0\r\nTrailer: x\r\n\r\n',
      );
    }
  }, async (s) => {
    for (let i = 0; i < 2; i++) {
      const res = await request(`${s.base}/c`, { maxBodyBytes: 4096 });
      assert.equal(res.status, 201);
      assert.equal(bodyOf(res), '{"ok":true,"n":1}');
      assert.equal(res.header("x-id"), "b");
    }
    assert.equal(s.accepted(), 1);
  });
});

Deno.test("send() skips a 100 Continue and reads the final response", async () => {
  await withRawServer(async (conn) => {
    await readRequest(conn);
    await write(
      conn,
      "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi",
    );
  }, async (s) => {
    const res = await request(`${s.base}/x`);
    assert.equal(res.status, 200);
    assert.equal(bodyOf(res), "hi");
  });
});

Deno.test("send() reads a body without a length to the end, and then uses a new connection", async () => {
  await withRawServer(async (conn) => {
    await readRequest(conn);
    await write(conn, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil close");
    conn.close();
  }, async (s) => {
    assert.equal(bodyOf(await request(`${s.base}/x`)), "until close");
    assert.equal(bodyOf(await request(`${s.base}/x`)), "until close");
    assert.equal(s.accepted(), 2);
  });
});

Deno.test("send() does not reuse a connection the server said it would close", async () => {
  await withRawServer(async (conn) => {
    while (await readRequest(conn) !== null) {
      await write(conn, "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok");
    }
  }, async (s) => {
    await request(`${s.base}/x`);
    await request(`${s.base}/x`);
    assert.equal(s.accepted(), 2);
  });
});

Deno.test("send() sends a request again on a new connection when a kept-alive one was closed unanswered", async () => {
  const requests: number[] = [];
  await withRawServer(async (conn, index) => {
    for (let n = 0; await readRequest(conn) !== null; n++) {
      requests.push(index);
      // The second request on the first connection finds the server closing it.
      if (index === 0 && n === 1) return;
      await write(conn, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    }
  }, async (s) => {
    assert.equal(bodyOf(await request(`${s.base}/x`)), "ok");
    assert.equal(bodyOf(await request(`${s.base}/x`)), "ok");
    assert.deepEqual(requests, [0, 0, 1]);
  });
});

Deno.test("send() refuses what breaks the protocol with a clear error", async () => {
  const replies = [
    "HTTP/1.1 2OO OK\r\n\r\n",
    "HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
    "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
    "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    `HTTP/1.1 200 OK\r\nX-Big: ${"a".repeat(10_000)}\r\n\r\n`,
  ];
  await withRawServer(async (conn, index) => {
    await readRequest(conn);
    await write(conn, replies[index]!);
  }, async (s) => {
    const messages = [];
    for (let i = 0; i < replies.length; i++) {
      const err = await request(`${s.base}/x`).then(() => null, (e) => e);
      assert.ok(err instanceof HttpProtocolError, `reply ${i}: ${err}`);
      messages.push(err.message);
    }
    assert.deepEqual(messages, [
      'malformed status line "HTTP/1.1 2OO OK"',
      'malformed header line "no colon here"',
      "connection closed mid-body",
      'invalid content-length "-1"',
      'malformed chunk size "zz"',
      "response line too long",
    ]);
  });
});

Deno.test("send() refuses a header that would split the request, before connecting", async () => {
  await withRawServer(async () => {}, async (s) => {
    await assert.rejects(
      request(`${s.base}/x`, { headers: { "x-note": "a\r\nInjected: yes" } }),
      /contains a line break/,
    );
    assert.equal(s.accepted(), 0);
  });
});

Deno.test("send() reads answers far larger than its read buffer, arriving in pieces, intact", async () => {
  const body = Array.from({ length: 40_000 }, (_, i) => String(i % 10)).join("");
  const chunked = body.match(/.{1,3000}/g)!.map((c) => `${c.length.toString(16)}\r\n${c}\r\n`)
    .join("") + "0\r\n\r\n";
  // Headers past the read buffer too (20 × 2 KB), as a service behind a cookie-happy proxy sends.
  const headers = Array.from({ length: 20 }, (_, i) => `X-Pad-${i}: ${"p".repeat(2000)}\r\n`).join(
    "",
  );
  const replies = [
    `HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
    `HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n${chunked}`,
    `HTTP/1.1 200 OK\r\n${headers}Content-Length: ${body.length}\r\n\r\n${body}`,
  ];
  await withRawServer(async (conn) => {
    for (let n = 0; await readRequest(conn) !== null; n++) {
      // Odd-sized writes, so lines and chunk sizes straddle the client's reads.
      const bytes = encoder.encode(replies[n % replies.length]!);
      for (let at = 0; at < bytes.length; at += 7001) {
        await conn.write(bytes.subarray(at, at + 7001));
      }
    }
  }, async (s) => {
    for (let i = 0; i < 6; i++) {
      const res = await request(`${s.base}/big`, { maxBodyBytes: 100_000 });
      assert.equal(bodyOf(res), body, `answer ${i}`);
      if (i % 3 === 2) assert.equal(res.header("x-pad-19"), "p".repeat(2000));
    }
    assert.equal(s.accepted(), 1);
  });
});
