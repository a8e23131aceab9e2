// A producer's load on the outbox, as an edge API makes it: `clients`
// connections, each committing one single-row INSERT per transaction, back to
// back, for a fixed time. pgbench when it is on PATH: it is C on libpq, so the
// client never becomes what is measured. Otherwise the same statement from
// this Deno process over postgres.js, and the report says so.
import postgres from "postgres";
import { rng, sampleOrder } from "../cluster/orders.ts";

export interface LoadResult {
  /** Committed transactions per second, connection set-up excluded. */
  tps: number;
  transactions: number;
}

export interface LoadOptions {
  clients: number;
  seconds: number;
}

export interface ProducerLoad {
  /** What ran the load, for the report, e.g. "pgbench (PostgreSQL) 15.18". */
  name: string;
  run(url: string, opts: LoadOptions): Promise<LoadResult>;
}

export type ProducerClient = "auto" | "pgbench" | "deno";

/** pgbench threads: its clients are cheap, a few threads keep them all busy on 2+ cores. */
const PGBENCH_THREADS = 4;

/**
 * A real OrderPlaced event whose order id is made by the server, so
 * that one statement text serves every transaction and the payload still
 * agrees with its row: with an orchestrator running, each one is a saga.
 */
function orderPlacedStatement(): string {
  const { order_id: _, payment_authorization_id: __, ...rest } = sampleOrder(rng(7));
  const json = JSON.stringify(rest);
  // pgbench would read ":name" as one of its variables; JSON has none ("key":"v").
  if (/:[A-Za-z_]/.test(json) || json.includes("'")) throw new Error(`unsafe payload ${json}`);
  return "INSERT INTO outbox (order_id, event_type, payload) " +
    "SELECT id, 'OrderPlaced', jsonb_build_object('order_id', id, " +
    `'payment_authorization_id', 'auth-' || id) || '${json}'::jsonb ` +
    "FROM gen_random_uuid() AS id";
}

export const PRODUCER_STATEMENT = orderPlacedStatement();

/** pgbench's version line, or undefined when it is not on PATH. */
async function pgbenchVersion(): Promise<string | undefined> {
  try {
    const out = await new Deno.Command("pgbench", { args: ["--version"], stdout: "piped" })
      .output();
    return out.success ? new TextDecoder().decode(out.stdout).trim() : undefined;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return undefined;
    throw err;
  }
}

function pgbenchLoad(version: string): ProducerLoad {
  return {
    name: `${version}, ${PGBENCH_THREADS} threads, prepared`,
    async run(url, opts) {
      const child = new Deno.Command("pgbench", {
        // -n: no vacuum of pgbench's own tables (there are none); "-f -": the script on stdin.
        args: [
          "-n",
          "-M",
          "prepared",
          "-c",
          String(opts.clients),
          "-j",
          String(Math.min(PGBENCH_THREADS, opts.clients)),
          "-T",
          String(opts.seconds),
          "-f",
          "-",
          url,
        ],
        stdin: "piped",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const stdin = child.stdin.getWriter();
      await stdin.write(new TextEncoder().encode(`${PRODUCER_STATEMENT};\n`));
      await stdin.close();
      const out = await child.output();
      const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
      const tps = /^tps = ([\d.]+) \(without initial connection time\)/m.exec(text)?.[1];
      const transactions = /^number of transactions actually processed: (\d+)/m.exec(text)?.[1];
      if (!out.success || tps === undefined || transactions === undefined) {
        throw new Error(`pgbench failed (exit ${out.code}):\n${text.slice(-2000)}`);
      }
      return { tps: Number(tps), transactions: Number(transactions) };
    },
  };
}

function denoLoad(why: string): ProducerLoad {
  return {
    name: `Deno ${Deno.version.deno} with postgres.js, prepared (${why})`,
    async run(url, opts) {
      const sql = postgres(url, {
        max: opts.clients,
        onnotice: () => {},
        connection: { application_name: "bench-producer" },
      });
      try {
        // Every connection open before the clock starts, as pgbench excludes connecting.
        await Promise.all(Array.from({ length: opts.clients }, () => sql`SELECT 1`));
        const started = performance.now();
        const until = started + opts.seconds * 1000;
        let transactions = 0;
        await Promise.all(Array.from({ length: opts.clients }, async () => {
          while (performance.now() < until) {
            await sql.unsafe(PRODUCER_STATEMENT, [], { prepare: true });
            transactions++;
          }
        }));
        return { tps: transactions / ((performance.now() - started) / 1000), transactions };
      } finally {
        await sql.end({ timeout: 2 });
      }
    },
  };
}

/** pgbench if asked for or found ("auto"), else the Deno client. */
export async function chooseProducerLoad(wanted: ProducerClient): Promise<ProducerLoad> {
  if (wanted === "deno") return denoLoad("as asked");
  const version = await pgbenchVersion();
  if (version) return pgbenchLoad(version);
  if (wanted === "pgbench") throw new Error("--producer-client pgbench: pgbench is not on PATH");
  return denoLoad("pgbench is not on PATH");
}
