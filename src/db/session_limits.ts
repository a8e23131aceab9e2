// Bounds on every wait the database can impose on our statements, and how
// they reach the server.
//
// Directly (or through a pooler that passes them), the limits go as start-up
// parameters: set on every connection at no extra round trip. Debian's
// PgBouncer 1.18 (measured, transaction and session mode alike) refuses any
// start-up parameter it does not track: "unsupported startup parameter:
// lock_timeout" (08P01), and the same for `options=-c …`. Listing them in its
// `ignore_startup_parameters` lets the connection through with the limits
// silently dropped (all three read back 0). A session `SET` does not help in
// transaction mode either: it lands on whichever server connection the
// statement got, and it leaks to the pooler's other clients. What does reach
// every server connection behind PgBouncer is a default the server applies
// itself: `ALTER ROLE … IN DATABASE … SET lock_timeout = …` (measured: read
// back through PgBouncer as set), or PgBouncer's own `connect_query`. Both are
// the operator's to set: the orchestrator must not change a role that a
// producer may share. So: when the server refuses the start-up parameters we
// connect without them, read back what is in effect, and say at start-up
// which limit is unbounded and the exact statement that bounds it.
import type { Sql } from "./client.ts";
import type { Logger } from "../log.ts";

/**
 * Every wait the database can impose on us is bounded (the orchestrator
 * lives in someone else's database): a row or table lock held by another
 * session fails our statement after `lockTimeoutMs` instead of queueing
 * behind it, a statement never runs longer than `statementTimeoutMs`, and a
 * transaction of ours left open by a stalled process is ended by the server.
 * A statement that hits one of these fails like a dropped connection would:
 * the caller retries later, and it is never an outbox event's fault.
 */
export interface SessionLimits {
  lockTimeoutMs: number;
  statementTimeoutMs: number;
  idleInTransactionTimeoutMs: number;
}

export const DEFAULT_SESSION_LIMITS: SessionLimits = {
  lockTimeoutMs: 2_000,
  statementTimeoutMs: 10_000,
  idleInTransactionTimeoutMs: 60_000,
};

/** How the limits reach the server: our start-up packet, or the server's own defaults. */
export type LimitsSource = "startup" | "server";

const SETTING_OF: Record<keyof SessionLimits, string> = {
  lockTimeoutMs: "lock_timeout",
  statementTimeoutMs: "statement_timeout",
  idleInTransactionTimeoutMs: "idle_in_transaction_session_timeout",
};

export function limitsAsStartupParameters(limits: SessionLimits): Record<string, number> {
  return Object.fromEntries(
    (Object.keys(SETTING_OF) as (keyof SessionLimits)[]).map((k) => [SETTING_OF[k], limits[k]]),
  );
}

/** A pooler (PgBouncer) refused a start-up parameter; retrying the same packet cannot help. */
export function isStartupParameterRefused(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown } | null;
  return e?.code === "08P01" && /unsupported startup parameter/i.test(String(e.message));
}

export interface LimitsInEffect {
  role: string;
  database: string;
  /** Milliseconds; 0 means unbounded. */
  values: SessionLimits;
}

/** What our statements actually run with, as the server reports it for this session. */
export async function readLimitsInEffect(sql: Sql): Promise<LimitsInEffect> {
  const rows = await sql<{ name: string; ms: number; role: string; database: string }[]>`
    SELECT name, setting::int AS ms, current_user AS role, current_database() AS database
    FROM pg_settings
    WHERE name IN ('lock_timeout', 'statement_timeout', 'idle_in_transaction_session_timeout')`;
  const ms = (name: string) => rows.find((r) => r.name === name)?.ms ?? 0;
  return {
    role: rows[0]?.role ?? "",
    database: rows[0]?.database ?? "",
    values: {
      lockTimeoutMs: ms("lock_timeout"),
      statementTimeoutMs: ms("statement_timeout"),
      idleInTransactionTimeoutMs: ms("idle_in_transaction_session_timeout"),
    },
  };
}

/** Names of the settings that leave a wait unbounded (0). */
export function unboundedSettings(values: SessionLimits): string[] {
  return (Object.keys(SETTING_OF) as (keyof SessionLimits)[])
    .filter((k) => values[k] <= 0)
    .map((k) => SETTING_OF[k]);
}

/** The statement an operator runs once to give the role these limits in this database. */
export function alterRoleStatements(limits: SessionLimits, inEffect: LimitsInEffect): string[] {
  const ident = (s: string) => `"${s.replaceAll('"', '""')}"`;
  return (Object.keys(SETTING_OF) as (keyof SessionLimits)[]).map((k) =>
    `ALTER ROLE ${ident(inEffect.role)} IN DATABASE ${ident(inEffect.database)} SET ${
      SETTING_OF[k]
    } = '${limits[k]}ms';`
  );
}

/**
 * Reads the limits back and says what an operator needs to know: nothing when
 * our start-up parameters set them; where they come from when the server
 * refused those; a warning, with the statements that fix it, for any limit
 * left unbounded.
 */
export async function reportLimits(
  sql: Sql,
  opts: { limits: SessionLimits; source: LimitsSource; logger?: Logger },
): Promise<LimitsInEffect> {
  const inEffect = await readLimitsInEffect(sql);
  const unbounded = unboundedSettings(inEffect.values);
  const values = limitsAsStartupParameters(inEffect.values);
  if (unbounded.length > 0) {
    opts.logger?.warn(
      { unbounded, in_effect_ms: values, limits_source: opts.source },
      `Session limits not in effect: ${unbounded.join(", ")} ${
        unbounded.length === 1 ? "is" : "are"
      } 0 (unbounded), so a lock held by another session can stall this instance. ${
        opts.source === "server"
          ? "The server (a pooler such as PgBouncer) refused them as start-up parameters. "
          : "They were sent as start-up parameters and dropped on the way (a pooler's " +
            "ignore_startup_parameters?). "
      }Set them for this role: ${alterRoleStatements(opts.limits, inEffect).join(" ")} ` +
        `(or with PgBouncer's connect_query), then restart the pooler's server connections`,
    );
  } else if (opts.source === "server") {
    opts.logger?.info(
      { in_effect_ms: values, limits_source: "server" },
      "Session limits come from the server's defaults (the pooler refused them as start-up parameters)",
    );
  }
  return inEffect;
}
