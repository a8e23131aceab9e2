// The numbered SQL files in ./migrations, read and classified for migrate.ts
// (which explains when and how each kind runs).

const DIR = new URL("./migrations/", import.meta.url);
const NO_TRANSACTION_MARKER = /^--\s*migrate:\s*no-transaction\s*$/;

export interface Migration {
  name: string;
  sql: string;
  /** False when the file's first line is `-- migrate: no-transaction`. */
  transactional: boolean;
}

export async function listMigrations(): Promise<Migration[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(DIR)) {
    if (entry.isFile && /^\d+_.*\.sql$/.test(entry.name)) names.push(entry.name);
  }
  names.sort();
  return await Promise.all(names.map(async (name) => {
    const sql = await Deno.readTextFile(new URL(name, DIR));
    const firstLine = sql.split("\n", 1)[0]!.trim();
    return { name, sql, transactional: !NO_TRANSACTION_MARKER.test(firstLine) };
  }));
}

export interface Statement {
  text: string;
  /** Where it starts in its file (1-based), for error messages. */
  line: number;
}

/**
 * The statements of a no-transaction file, to send one at a time (several in
 * one query string would run as one implicit transaction). A statement ends
 * with `;` at the end of a line; whole-line `--` comments between statements
 * are dropped. No SQL parser: such files hold plain DDL, never dollar-quoted
 * bodies.
 */
export function statementsOf(sql: string): Statement[] {
  const statements: Statement[] = [];
  let lines: string[] = [];
  let start = 0;
  const flush = () => {
    if (lines.length > 0) statements.push({ text: lines.join("\n"), line: start });
    lines = [];
  };
  sql.split("\n").forEach((raw, i) => {
    const line = raw.trimEnd();
    const comment = line.trimStart().startsWith("--");
    if (lines.length === 0 && (comment || line === "")) return;
    if (lines.length === 0) start = i + 1;
    lines.push(line);
    if (!comment && line.endsWith(";")) flush();
  });
  flush();
  return statements;
}

const CONCURRENT_INDEX =
  /^CREATE\s+(?:UNIQUE\s+)?INDEX\s+CONCURRENTLY\s+IF\s+NOT\s+EXISTS\s+("(?:[^"]|"")+"|[A-Za-z_][\w$]*)/i;

/** The index a `CREATE [UNIQUE] INDEX CONCURRENTLY IF NOT EXISTS <name>` statement builds. */
export function concurrentIndexName(statement: string): string | undefined {
  return CONCURRENT_INDEX.exec(statement)?.[1];
}

/** Statements whose lock waits hold up nobody else's writes (SHARE UPDATE EXCLUSIVE). */
export function isConcurrent(statement: string): boolean {
  return /^(CREATE\s+(UNIQUE\s+)?|DROP\s+)INDEX\s+CONCURRENTLY\b/i.test(statement);
}
