// Reads the plans PostgreSQL actually ran: auto_explain (shipped with the
// server) on a connection of its own reports every statement's plan, with
// actual row counts, as a NOTICE. The queries under test run unchanged, as
// the product runs them; nothing re-types their SQL.
import postgres from "postgres";
import type { Sql } from "../../src/db/client.ts";

export interface PlanNode {
  "Node Type": string;
  "Relation Name"?: string;
  "Index Name"?: string;
  "Actual Rows"?: number;
  "Actual Loops"?: number;
  "Rows Removed by Filter"?: number;
  "Rows Removed by Index Recheck"?: number;
  Plans?: PlanNode[];
}

export interface ExplainedStatement {
  text: string;
  plan: PlanNode;
}

export interface PlanSession {
  sql: Sql;
  /** Runs `fn` on the session (in a transaction rolled back afterwards) and returns the plans. */
  explain(fn: (sql: Sql) => Promise<unknown>): Promise<ExplainedStatement[]>;
  close(): Promise<void>;
}

const ROLLBACK = new Error("rollback");

export async function planSession(url: string): Promise<PlanSession> {
  const notices: string[] = [];
  const sql = postgres(url, {
    max: 1,
    onnotice: (n) => notices.push(String(n.message)),
  });
  await sql.unsafe(`LOAD 'auto_explain'`);
  await sql.unsafe(`SET auto_explain.log_min_duration = 0`);
  await sql.unsafe(`SET auto_explain.log_analyze = on`);
  await sql.unsafe(`SET auto_explain.log_format = json`);
  await sql.unsafe(`SET auto_explain.log_level = notice`);
  await sql.unsafe(`SET auto_explain.log_nested_statements = on`);
  return {
    sql: sql as unknown as Sql,
    async explain(fn) {
      notices.length = 0;
      await sql.begin(async (tx) => {
        await fn(tx as unknown as Sql);
        throw ROLLBACK;
      }).catch((err) => {
        if (err !== ROLLBACK) throw err;
      });
      return notices.flatMap((message) => {
        const start = message.indexOf("{");
        if (start < 0) return [];
        const parsed = JSON.parse(message.slice(start)) as {
          "Query Text": string;
          Plan: PlanNode;
        };
        return [{ text: parsed["Query Text"], plan: parsed.Plan }];
      }).filter((s) => !/^\s*(BEGIN|ROLLBACK|COMMIT|SELECT 1)\b/i.test(s.text));
    },
    close: () => sql.end({ timeout: 2 }),
  };
}

export function nodes(plan: PlanNode): PlanNode[] {
  return [plan, ...(plan.Plans ?? []).flatMap(nodes)];
}

/** Sequential scans of the named tables anywhere in the plan. */
export function seqScans(plan: PlanNode, tables: readonly string[]): string[] {
  return nodes(plan)
    .filter((n) => n["Node Type"] === "Seq Scan" && tables.includes(n["Relation Name"] ?? ""))
    .map((n) => n["Relation Name"]!);
}

/** Rows every scan of `tables` read: returned plus filtered out, over all loops. */
export function rowsExamined(plan: PlanNode, tables: readonly string[]): number {
  return nodes(plan)
    .filter((n) => /Scan/.test(n["Node Type"]) && tables.includes(n["Relation Name"] ?? ""))
    .reduce(
      (sum, n) =>
        sum +
        ((n["Actual Rows"] ?? 0) + (n["Rows Removed by Filter"] ?? 0) +
            (n["Rows Removed by Index Recheck"] ?? 0)) * (n["Actual Loops"] ?? 1),
      0,
    );
}
