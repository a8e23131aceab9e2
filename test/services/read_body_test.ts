import assert from "node:assert/strict";
import { decodeBody, MAX_BODY_BYTES } from "../../src/services/read_body.ts";

const bytes = (text: string) => new TextEncoder().encode(text);

Deno.test("decodeBody() parses JSON whatever the content-type said", () => {
  assert.deepEqual(decodeBody(bytes('{"capture_id":"c1"}')), { capture_id: "c1" });
  assert.deepEqual(decodeBody(bytes("[1,2]")), [1, 2]);
});

Deno.test("decodeBody() falls back to text for bodies that are not JSON", () => {
  assert.equal(decodeBody(bytes("<h1>Bad gateway</h1>")), "<h1>Bad gateway</h1>");
  assert.equal(decodeBody(bytes('{"broken":')), '{"broken":');
  const binary = decodeBody(new Uint8Array([0xff, 0x00, 0xfe]));
  assert.equal(typeof binary, "string");
});

Deno.test("decodeBody() returns undefined for an empty body", () => {
  assert.equal(decodeBody(new Uint8Array()), undefined);
  assert.equal(decodeBody(bytes("  \n")), undefined);
});

Deno.test("decodeBody() keeps at most MAX_BODY_BYTES and does not parse JSON that was cut off", () => {
  const json = JSON.stringify({ data: "x".repeat(MAX_BODY_BYTES) });
  const body = decodeBody(bytes(json).subarray(0, MAX_BODY_BYTES + 1));
  assert.equal(body, json.slice(0, MAX_BODY_BYTES));
});
