// `deno task test`: runs the suite against DATABASE_URL, or against a
// throwaway embedded PostgreSQL started here when it is unset. Each test
// file creates its own databases on that server (freshDatabase in
// tooling/cluster/database.ts).
import { startEmbedded } from "../src/db/embedded.ts";
import { createLogger } from "../src/log.ts";
import { freePort } from "../tooling/cluster/mod.ts";

const env: Record<string, string> = {};
let stop = async () => {};
if (!Deno.env.get("DATABASE_URL")) {
  const dir = await Deno.makeTempDir({ prefix: "orchestrator-test-pg-" });
  await Deno.chmod(dir, 0o755);
  const server = await startEmbedded({
    dataDir: `${dir}/data`,
    port: await freePort(),
    logger: createLogger("warn"),
  });
  env.DATABASE_URL = server.adminUrl;
  stop = async () => {
    await server.stop();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };
  console.log(`Test PostgreSQL: embedded on port ${server.port}`);
}

const args = Deno.args.length ? Deno.args : ["test/"];
const child = new Deno.Command(Deno.execPath(), {
  args: [
    "test",
    "--allow-net",
    "--allow-env",
    "--allow-read",
    "--allow-write",
    "--allow-run",
    "--allow-sys",
    ...args,
  ],
  env,
  stdout: "inherit",
  stderr: "inherit",
}).spawn();
const terminate = () => child.kill("SIGTERM");
Deno.addSignalListener("SIGINT", terminate);
Deno.addSignalListener("SIGTERM", terminate);
const { code } = await child.status;
await stop();
Deno.exit(code);
