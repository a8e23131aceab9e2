// Plans of the statements our query functions really send, as prepared
// statements: the function runs once on a client that records the final SQL
// text and its parameters (postgres.js's `debug` hook), then that statement
// is prepared and EXPLAINed with a custom plan, or with the generic plan
// PostgreSQL may switch to after five executions, where a parameter's value
// is unknown (so a partial index chosen by a parameter would be lost).
import postgres from "postgres";
import type { Sql } from "../../src/db/client.ts";

export interface PlanNode {
  "Node Type": string;
  "Relation Name"?: string;
  "Index Name"?: string;
  Plans?: PlanNode[];
  [key: string]: unknown;
}

/** Every node of a plan, depth first. */
export function nodes(plan: PlanNode): PlanNode[] {
  return [plan, ...(plan.Plans ?? []).flatMap(nodes)];
}

export async function planOf(
  url: string,
  run: (sql: Sql) => Promise<unknown>,
  opts: { generic?: boolean } = {},
): Promise<PlanNode> {
  let last: { text: string; parameters: unknown[] } | undefined;
  const sql = postgres(url, {
    max: 1,
    onnotice: () => {},
    debug: (_id, text, parameters) => last = { text, parameters: parameters as unknown[] },
  });
  try {
    await run(sql as unknown as Sql);
    const { text, parameters } = last!;
    // PREPARE infers each parameter's type from where it is used (EXPLAIN
    // with bound parameters cannot); the values go in as literals.
    await sql.unsafe(`PREPARE planned AS ${text}`);
    await sql.unsafe(
      `SET plan_cache_mode = ${opts.generic ? "force_generic_plan" : "force_custom_plan"}`,
    );
    const args = parameters.map(literal).join(", ");
    const rows = await sql.unsafe(
      `EXPLAIN (FORMAT JSON) EXECUTE planned${args ? `(${args})` : ""}`,
    );
    return (rows[0]!["QUERY PLAN"] as Array<{ Plan: PlanNode }>)[0]!.Plan;
  } finally {
    await sql.end({ timeout: 2 });
  }
}

/** A JS parameter as an SQL literal of unknown type (arrays in PostgreSQL's array syntax). */
function literal(v: unknown): string {
  if (v === null || v === undefined) return "NULL";
  if (typeof v === "number" || typeof v === "bigint") return String(v);
  const text = Array.isArray(v)
    ? `{${
      v.map((x) => `"${String(x).replaceAll("\\", "\\\\").replaceAll('"', '\\"')}"`).join(",")
    }}`
    : typeof v === "object"
    ? JSON.stringify(v)
    : String(v);
  return `'${text.replaceAll("'", "''")}'`;
}

/** The indexes a plan reads, and whether it scans `table` sequentially. */
export function reads(plan: PlanNode, table: string) {
  const all = nodes(plan);
  return {
    indexes: all.map((n) => n["Index Name"]).filter((i): i is string => !!i),
    seqScan: all.some((n) => n["Node Type"] === "Seq Scan" && n["Relation Name"] === table),
  };
}
