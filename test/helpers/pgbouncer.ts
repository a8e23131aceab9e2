// A real PgBouncer (Debian's /usr/sbin/pgbouncer) in front of the suite's
// server, with an ini of its own in a temp dir. As root, PgBouncer refuses
// to run, so it runs as the `postgres` user (setpriv execs, so the child we
// hold is PgBouncer itself and stopping it needs no process-group games).
import postgres from "postgres";
import { freePort } from "../../tooling/cluster/mod.ts";

const PGBOUNCER = "/usr/sbin/pgbouncer";

export interface PgBouncer {
  port: number;
  /** `url` (a direct URL to the suite's server) with its host and port swapped for PgBouncer's. */
  through(url: string): string;
  /** PgBouncer's own log, for assertion messages. */
  log(): string;
  /** Rewrites the ini with these settings changed and reloads it (SIGHUP), as an operator would. */
  reconfigure(settings: Record<string, string>): Promise<void>;
  stop(): Promise<void>;
}

export interface PgBouncerOptions {
  /** A direct URL to the server; the user and password PgBouncer logs in with come from it. */
  serverUrl: string;
  poolMode?: "transaction" | "session";
  /** Extra `[pgbouncer]` settings, e.g. `{ ignore_startup_parameters: "lock_timeout" }`. */
  settings?: Record<string, string>;
  /** `connect_query` of the database entry (run on every new server connection). */
  connectQuery?: string;
}

function isRoot(): boolean {
  return Deno.uid() === 0;
}

export async function startPgBouncer(opts: PgBouncerOptions): Promise<PgBouncer> {
  const server = new URL(opts.serverUrl);
  const user = decodeURIComponent(server.username);
  const password = decodeURIComponent(server.password);
  const dir = await Deno.makeTempDir({ prefix: "orchestrator-pgbouncer-" });
  // PgBouncer (as `postgres`) reads the ini and writes its pid and log here.
  await Deno.chmod(dir, 0o777);
  const port = await freePort();
  const quote = (s: string) => `"${s.replaceAll('"', '""')}"`;
  await Deno.writeTextFile(`${dir}/userlist.txt`, `${quote(user)} ${quote(password)}\n`);
  const connectQuery = opts.connectQuery
    ? ` connect_query='${opts.connectQuery.replaceAll("'", "''")}'`
    : "";
  const settings: Record<string, string> = {
    listen_addr: "127.0.0.1",
    listen_port: String(port),
    unix_socket_dir: "",
    auth_type: "trust",
    auth_file: `${dir}/userlist.txt`,
    pidfile: `${dir}/pgbouncer.pid`,
    logfile: `${dir}/pgbouncer.log`,
    pool_mode: opts.poolMode ?? "transaction",
    max_client_conn: "500",
    default_pool_size: "20",
    ...opts.settings,
  };
  const writeIni = async () => {
    await Deno.writeTextFile(
      `${dir}/pgbouncer.ini`,
      [
        "[databases]",
        // Any database name goes to the same name on the server.
        `* = host=${server.hostname} port=${server.port || "5432"}${connectQuery}`,
        "[pgbouncer]",
        ...Object.entries(settings).map(([k, v]) => `${k} = ${v}`),
        "",
      ].join("\n"),
    );
    await Deno.chmod(`${dir}/pgbouncer.ini`, 0o644);
  };
  await writeIni();
  await Deno.chmod(`${dir}/userlist.txt`, 0o644);

  const [cmd, args] = isRoot()
    ? ["setpriv", [
      "--reuid=postgres",
      "--regid=postgres",
      "--clear-groups",
      "--",
      PGBOUNCER,
      `${dir}/pgbouncer.ini`,
    ]]
    : [PGBOUNCER, [`${dir}/pgbouncer.ini`]];
  const child = new Deno.Command(cmd, { args, stdin: "null", stdout: "null", stderr: "null" })
    .spawn();
  let exited = false;
  const status = child.status.finally(() => exited = true);

  const log = () => {
    try {
      return Deno.readTextFileSync(`${dir}/pgbouncer.log`);
    } catch {
      return "(no log)";
    }
  };
  const through = (url: string) => {
    const u = new URL(url);
    u.hostname = "127.0.0.1";
    u.port = String(port);
    return u.toString();
  };
  const stop = async () => {
    if (!exited) {
      try {
        child.kill("SIGTERM");
      } catch { /* already gone */ }
    }
    await status;
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };

  // Ready once a query goes through it to the server.
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (exited) {
      const text = log();
      await stop();
      throw new Error(`PgBouncer exited at start:\n${text}`);
    }
    const probe = postgres(through(opts.serverUrl), {
      max: 1,
      prepare: false,
      // Whether or not the settings make it require TLS from clients.
      ssl: "prefer",
      connect_timeout: 1,
      onnotice: () => {},
    });
    try {
      await probe`SELECT 1`;
      break;
    } catch (err) {
      if (Date.now() > deadline) {
        const text = log();
        await stop();
        throw new Error(`PgBouncer did not answer on port ${port}: ${err}\n${text}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    } finally {
      await probe.end({ timeout: 1 });
    }
  }
  const reconfigure = async (changes: Record<string, string>) => {
    Object.assign(settings, changes);
    await writeIni();
    child.kill("SIGHUP");
  };
  return { port, through, log, reconfigure, stop };
}
