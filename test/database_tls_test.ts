// DATABASE_SSLMODE for the DATABASE_HOST parts, against real TLS: a PgBouncer
// that requires TLS from its clients (certificates made here with openssl,
// from a CA of our own), and the suite's plain server.
import assert from "node:assert/strict";
import { type PgBouncer, startPgBouncer } from "./helpers/pgbouncer.ts";
import { loadConfig } from "../src/config.ts";
import { connectDatabase } from "../src/db/client.ts";
import {
  type FreshDatabase,
  freshDatabase,
  startOrchestratorProcess,
} from "../tooling/cluster/mod.ts";

const SERVER_URL = Deno.env.get("DATABASE_URL")!;

async function openssl(args: string[]) {
  const out = await new Deno.Command("openssl", { args, stdout: "null", stderr: "piped" }).output();
  if (!out.success) throw new Error(`openssl ${args[0]}: ${new TextDecoder().decode(out.stderr)}`);
}

/** A CA, and a server certificate it signed for localhost / 127.0.0.1, readable by PgBouncer. */
async function certificates(): Promise<{ dir: string; ca: string; cert: string; key: string }> {
  const dir = await Deno.makeTempDir({ prefix: "orchestrator-tls-" });
  await Deno.chmod(dir, 0o755);
  const f = (name: string) => `${dir}/${name}`;
  // deno-fmt-ignore
  await openssl([
    "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=test CA",
    "-keyout", f("ca.key"), "-out", f("ca.pem"),
  ]);
  // deno-fmt-ignore
  await openssl([
    "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost",
    "-keyout", f("server.key"), "-out", f("server.csr"),
  ]);
  await Deno.writeTextFile(f("san.cnf"), "subjectAltName=DNS:localhost,IP:127.0.0.1\n");
  // deno-fmt-ignore
  await openssl([
    "x509", "-req", "-in", f("server.csr"), "-CA", f("ca.pem"), "-CAkey", f("ca.key"),
    "-CAcreateserial", "-days", "1", "-extfile", f("san.cnf"), "-out", f("server.pem"),
  ]);
  for (const name of ["ca.pem", "server.pem", "server.key"]) await Deno.chmod(f(name), 0o644);
  return { dir, ca: f("ca.pem"), cert: f("server.pem"), key: f("server.key") };
}

/** The DATABASE_HOST parts for `db` on host:port, with the suite's user and password. */
function parts(db: FreshDatabase, host: string, port: number): Record<string, string> {
  const server = new URL(SERVER_URL);
  return {
    DATABASE_HOST: host,
    DATABASE_PORT: String(port),
    DATABASE_NAME: new URL(db.url).pathname.slice(1),
    DATABASE_USER: decodeURIComponent(server.username),
    DATABASE_PASSWORD: decodeURIComponent(server.password),
  };
}

/** Connects the way main does, from configuration; the error's message when it cannot. */
async function connectWith(env: Record<string, string>): Promise<string> {
  const config = loadConfig(env, { hostname: "h", pid: 1 });
  try {
    const sql = await connectDatabase(config.database!.url, {
      max: 1,
      prepare: false,
      attempts: 1,
    });
    await sql.end({ timeout: 1 });
    return "connected";
  } catch (err) {
    return (err as Error).message;
  }
}

async function withTlsBouncer(
  f: (db: FreshDatabase, bouncer: PgBouncer, ca: string) => Promise<void>,
) {
  const certs = await certificates();
  const db = await freshDatabase({ migrate: false });
  const bouncer = await startPgBouncer({
    serverUrl: SERVER_URL,
    settings: {
      client_tls_sslmode: "require",
      client_tls_key_file: certs.key,
      client_tls_cert_file: certs.cert,
    },
  });
  try {
    await f(db, bouncer, certs.ca);
  } finally {
    await bouncer.stop();
    await db.drop();
    await Deno.remove(certs.dir, { recursive: true }).catch(() => {});
  }
}

Deno.test("against a server that requires TLS: prefer (the default) and require connect, disable is refused, verify-full refuses an untrusted certificate", async () => {
  await withTlsBouncer(async (db, bouncer) => {
    const env = {
      ...parts(db, "localhost", bouncer.port),
      DATABASE_PREPARED_STATEMENTS: "false",
      MIGRATE: "false",
    };
    assert.equal(await connectWith(env), "connected", "default (prefer)");
    assert.equal(await connectWith({ ...env, DATABASE_SSLMODE: "prefer" }), "connected");
    assert.equal(await connectWith({ ...env, DATABASE_SSLMODE: "require" }), "connected");
    assert.match(await connectWith({ ...env, DATABASE_SSLMODE: "disable" }), /SSL required/);
    // This process does not trust the test CA.
    assert.match(
      await connectWith({ ...env, DATABASE_SSLMODE: "verify-full" }),
      /certificate/,
    );
  });
});

Deno.test("against a server without TLS: prefer falls back to plain, require does not", async () => {
  const db = await freshDatabase({ migrate: false });
  try {
    const server = new URL(SERVER_URL);
    const env = parts(db, server.hostname, Number(server.port));
    assert.equal(await connectWith(env), "connected", "default (prefer)");
    assert.notEqual(await connectWith({ ...env, DATABASE_SSLMODE: "require" }), "connected");
  } finally {
    await db.drop();
  }
});

Deno.test("verify-full with the CA trusted (DENO_CERT): the orchestrator starts over TLS", async () => {
  await withTlsBouncer(async (db, bouncer, ca) => {
    const p = startOrchestratorProcess({
      ...parts(db, "localhost", bouncer.port),
      DATABASE_URL: "", // inherited from the suite; the parts must win here
      DATABASE_SSLMODE: "verify-full",
      DATABASE_PREPARED_STATEMENTS: "false",
      MIGRATE: "false",
      DENO_CERT: ca,
      LISTEN: "false",
      INSTANCE_ID: "tls-verify-full",
    });
    try {
      await p.waitForLog((l) => l.msg === "Starting polling loop");
      assert.ok(p.logs.some((l) => l.msg === "Database connection verified"));
      p.kill("SIGTERM");
      assert.equal((await p.status).code, 0);
    } finally {
      p.kill("SIGKILL");
      await p.status;
    }
  });
});
