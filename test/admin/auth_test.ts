// ADMIN_TOKEN / ADMIN_TOKENS: every route but /healthz and /readyz needs an
// operator's bearer token, compared in constant time (hash both, then
// timingSafeEqual), against every configured token.
import assert from "node:assert/strict";
import { createAdminApp } from "../../src/admin/app.ts";
import { type AdminEnv, bearerToken, requireToken, tokenMatches } from "../../src/admin/auth.ts";
import type { Sql } from "../../src/db/client.ts";
import { createMetrics } from "../../src/metrics.ts";
import { Hono } from "hono";

const TOKEN = "s3cret-token-with-some-length";
const sql = (() => Promise.resolve([{ "?column?": 1 }])) as unknown as Sql;

function app(token: string | undefined) {
  return createAdminApp({ sql, listening: () => true, token, metrics: createMetrics() });
}

// "/" is the admin page: public by design, it holds no data (see test/admin/app_test.ts).
const PROTECTED = [
  "/sagas",
  `/sagas/${crypto.randomUUID()}`,
  "/machines",
  "/machines/supervisor",
  "/metrics",
  "/does-not-exist",
];

Deno.test("with ADMIN_TOKEN, a request without the token is 401 JSON with WWW-Authenticate", async () => {
  const a = app(TOKEN);
  for (const path of PROTECTED) {
    const res = await a.request(path);
    assert.equal(res.status, 401, path);
    assert.deepEqual(await res.json(), { error: "unauthorized" }, path);
    assert.match(res.headers.get("www-authenticate") ?? "", /^Bearer/, path);
  }
  const post = await a.request(`/sagas/${crypto.randomUUID()}/retry`, { method: "POST" });
  assert.equal(post.status, 401);
});

Deno.test("with ADMIN_TOKEN, a wrong or malformed Authorization header is 401", async () => {
  const a = app(TOKEN);
  for (
    const header of [
      `Bearer ${TOKEN}x`,
      `Bearer ${TOKEN.slice(0, -1)}`,
      "Bearer ",
      `Basic ${btoa(`admin:${TOKEN}`)}`,
      TOKEN,
      `Bearer ${TOKEN} extra`,
    ]
  ) {
    const res = await a.request("/machines", { headers: { authorization: header } });
    assert.equal(res.status, 401, header);
    assert.deepEqual(await res.json(), { error: "unauthorized" });
  }
});

Deno.test("with ADMIN_TOKEN, the right bearer token opens every route", async () => {
  const a = app(TOKEN);
  for (const scheme of ["Bearer", "bearer"]) {
    const res = await a.request("/machines", { headers: { authorization: `${scheme} ${TOKEN}` } });
    assert.equal(res.status, 200, scheme);
  }
  const metrics = await a.request("/metrics", { headers: { authorization: `Bearer ${TOKEN}` } });
  assert.equal(metrics.status, 200);
  // Past auth, an unknown route is an ordinary 404.
  const missing = await a.request("/nope", { headers: { authorization: `Bearer ${TOKEN}` } });
  assert.equal(missing.status, 404);
});

Deno.test("with ADMIN_TOKEN, /healthz and /readyz stay open", async () => {
  const a = app(TOKEN);
  assert.equal((await a.request("/healthz")).status, 200);
  assert.equal((await a.request("/readyz")).status, 200);
});

Deno.test("without ADMIN_TOKEN every route is open (config.ts allows that only on loopback)", async () => {
  const a = app(undefined);
  assert.equal((await a.request("/machines")).status, 200);
  assert.equal((await a.request("/metrics")).status, 200);
});

Deno.test("tokenMatches() compares equal and unequal tokens of any length without throwing", async () => {
  assert.equal(await tokenMatches(TOKEN, TOKEN), true);
  assert.equal(await tokenMatches(`${TOKEN}x`, TOKEN), false);
  assert.equal(await tokenMatches("", TOKEN), false);
  assert.equal(await tokenMatches("a".repeat(10_000), TOKEN), false);
  // Same length, last character differs: a naive early-exit compare's worst case.
  assert.equal(await tokenMatches(`${TOKEN.slice(0, -1)}X`, TOKEN), false);
});

Deno.test("the middleware checks tokens only through the constant-time comparison, every one of them", async () => {
  const seen: Array<[string, string]> = [];
  const compare = (given: string, expected: string) => {
    seen.push([given, expected]);
    return tokenMatches(given, expected);
  };
  const operators = [{ name: "alice", token: TOKEN }, { name: "bob", token: "bobs-token" }];
  const a = new Hono<AdminEnv>();
  a.use(requireToken(operators, [], compare));
  a.get("/x", (c) => c.text(c.get("operator")));
  assert.equal((await a.request("/x", { headers: { authorization: "Bearer nope" } })).status, 401);
  const first = await a.request("/x", { headers: { authorization: `Bearer ${TOKEN}` } });
  assert.equal(first.status, 200);
  assert.equal(await first.text(), "alice");
  // A match on the first token does not skip the second: the time says nothing about which.
  assert.deepEqual(seen, [
    ["nope", TOKEN],
    ["nope", "bobs-token"],
    [TOKEN, TOKEN],
    [TOKEN, "bobs-token"],
  ]);
  const second = await a.request("/x", { headers: { authorization: "Bearer bobs-token" } });
  assert.equal(await second.text(), "bob");
});

Deno.test('with several operators, each one\'s token opens the API; ADMIN_TOKEN alongside is "admin"', async () => {
  const a = createAdminApp({
    sql,
    listening: () => true,
    token: TOKEN,
    operators: [{ name: "alice", token: "alice-token" }, { name: "bob", token: "bob-token" }],
  });
  for (const token of [TOKEN, "alice-token", "bob-token"]) {
    const res = await a.request("/machines", { headers: { authorization: `Bearer ${token}` } });
    assert.equal(res.status, 200, token);
  }
  const res = await a.request("/machines", { headers: { authorization: "Bearer carol-token" } });
  assert.equal(res.status, 401);
});

Deno.test("bearerToken() reads only the Bearer scheme", () => {
  assert.equal(bearerToken("Bearer abc"), "abc");
  assert.equal(bearerToken("bearer  abc "), "abc");
  assert.equal(bearerToken("Basic abc"), null);
  assert.equal(bearerToken("Bearer"), null);
  assert.equal(bearerToken(undefined), null);
});
