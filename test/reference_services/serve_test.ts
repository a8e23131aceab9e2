import assert from "node:assert/strict";

const SERVE = new URL("../../tooling/reference_services/serve.ts", import.meta.url).pathname;

function spawn(args: string[]) {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-net", "--allow-env", SERVE, ...args],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

/** Reads `count` JSON lines from the child's stdout, leaving the stream open. */
async function readLines(stream: ReadableStream<Uint8Array>, count: number) {
  const reader = stream.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  const lines: { service: string; url: string }[] = [];
  while (lines.length < count) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value;
    let nl;
    while ((nl = buffer.indexOf("\n")) >= 0) {
      lines.push(JSON.parse(buffer.slice(0, nl)));
      buffer = buffer.slice(nl + 1);
    }
  }
  return { lines, rest: reader };
}

Deno.test("serve.ts prints its URL, answers requests and exits 0 on SIGTERM", async () => {
  const child = spawn(["payments", "--port", "0"]);
  const { lines, rest } = await readLines(child.stdout, 1);
  assert.equal(lines.length, 1);
  assert.equal(lines[0]?.service, "payments");
  assert.match(lines[0]?.url ?? "", /^http:\/\/127\.0\.0\.1:\d+$/);
  const res = await fetch(`${lines[0]?.url}/payments/capture/a1`, {
    method: "POST",
    headers: { "content-type": "application/json", "Idempotency-Key": "o1:capturePayment" },
    body: JSON.stringify({ order_id: "o1", amount_cents: 1, currency: "USD" }),
  });
  assert.equal(res.status, 200);
  await res.body?.cancel();
  child.kill("SIGTERM");
  const status = await child.status;
  const trailing = await rest.read();
  assert.equal(trailing.done, true, "nothing else on stdout");
  await child.stderr.cancel();
  assert.equal(status.code, 0);
});

Deno.test("serve.ts all starts three services on free ports and exits 0 on SIGINT", async () => {
  const child = spawn(["all", "--port", "0", "--latency-ms", "1", "--error-rate", "0"]);
  const { lines, rest } = await readLines(child.stdout, 3);
  assert.deepEqual(lines.map((l) => l.service), ["orders", "inventory", "payments"]);
  const stats = await fetch(`${lines[1]?.url}/_control/stats`);
  assert.equal((await stats.json()).service, "inventory");
  child.kill("SIGINT");
  const status = await child.status;
  await rest.cancel();
  await child.stderr.cancel();
  assert.equal(status.code, 0);
});

Deno.test("serve.ts rejects a bad option with exit code 2", async () => {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-net", "--allow-env", SERVE, "orders", "--error-rate", "2"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(output.code, 2);
  assert.match(new TextDecoder().decode(output.stderr), /--error-rate/);
  assert.equal(output.stdout.length, 0);
});
