// Configuration from the environment, checked once at start-up.
// Every variable has a default; a bad value throws ConfigError, which main
// turns into exit code 2 with a message naming the variable.
import { ConfigError } from "./errors.ts";
import { DEFAULT_SESSION_LIMITS, type SessionLimits } from "./db/client.ts";
import { type Operator, parseOperators } from "./admin/operators.ts";

/**
 * Sagas in flight per instance. A saga in flight mostly waits (on a call or
 * on its commit) and costs little memory, and the more of them commit at the
 * same moment, the more share one statement (group commit): on the
 * benchmark, 64 → 256 raised throughput by about a third and cut PostgreSQL
 * CPU per saga. Lower it to spare a fragile downstream service.
 */
export const DEFAULT_SAGA_CONCURRENCY = 256;
export const DEFAULT_DB_POOL_SIZE = 10;

export interface Config {
  pollIntervalMs: number;
  listen: boolean;
  services: { orders: string; inventory: string; payments: string };
  /** Undefined means: start an embedded PostgreSQL. */
  database: { url: string } | undefined;
  /** A direct (session) connection for LISTEN when `database.url` goes through a pooler. */
  listenDatabaseUrl: string | undefined;
  /** Named prepared statements; off for a transaction-pooling PgBouncer. */
  dbPreparedStatements: boolean;
  dataDir: string;
  embeddedPort: number;
  migrate: boolean;
  otelServiceName: string;
  otelEndpoint: string;
  admin: {
    host: string;
    port: number;
    /** ADMIN_TOKEN (operator "admin") and ADMIN_TOKENS; none leaves the API open. */
    operators: Operator[];
    enabled: boolean;
  };
  logLevel: string;
  instanceId: string;
  outboxBatchSize: number;
  outboxMaxAttempts: number;
  sagaConcurrency: number;
  leaseMs: number;
  heartbeatMs: number;
  httpTimeoutMs: number;
  retry: { baseMs: number; maxMs: number };
  maxAttempts: { forward: number; confirm: number; compensation: number };
  shutdownGraceMs: number;
  /** Stately inspector WebSocket (opt-in). */
  inspectUrl: string | undefined;
  dbPoolSize: number;
  /** Bounds of each downstream service's adaptive concurrency limit, per instance. */
  serviceConcurrency: { min: number; max: number };
  /** Finished sagas and processed events older than this are deleted; 0 keeps everything. */
  retentionSeconds: number;
  /** How often the retention sweep runs. */
  maintenanceIntervalMs: number;
  /** Bounds on every statement's waits (client.ts SessionLimits). */
  dbLimits: SessionLimits;
}

type Env = Record<string, string | undefined>;

const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"];

function int(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!/^-?\d+$/.test(raw.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
    throw new ConfigError(name, `an integer from ${min} to ${max}`, raw);
  }
  return n;
}

function bool(env: Env, name: string, fallback: boolean): boolean {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const v = raw.trim().toLowerCase();
  if (["true", "1", "yes", "on"].includes(v)) return true;
  if (["false", "0", "no", "off"].includes(v)) return false;
  throw new ConfigError(name, "true or false", raw);
}

function url(env: Env, name: string, fallback: string, protocols: string[]): string {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  try {
    const u = new URL(raw);
    if (protocols.includes(u.protocol)) return raw.replace(/\/+$/, "");
  } catch { /* reported below */ }
  throw new ConfigError(name, `a URL (${protocols.join(" or ")})`, redactUrl(raw));
}

/** Never echo a password back in an error message. */
function redactUrl(raw: string): string {
  return raw.replace(/\/\/([^:/@]*):[^@]*@/, "//$1:***@");
}

function str(env: Env, name: string, fallback: string): string {
  const raw = env[name];
  return raw === undefined || raw === "" ? fallback : raw;
}

export function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || host === "[::1]" || /^127\./.test(host);
}

/**
 * libpq's names, as postgres.js reads them from a URL's `sslmode`. `prefer`
 * is libpq's default: TLS when the server offers it, plain otherwise, and
 * (like libpq) no certificate check; `verify-full` checks the certificate
 * chain and the host name. libpq's `allow` and `verify-ca` are left out:
 * postgres.js treats them as `require` and `verify-full`, not as libpq does.
 */
export const SSL_MODES = ["disable", "prefer", "require", "verify-full"] as const;
export const DEFAULT_SSL_MODE = "prefer";

function sslMode(env: Env): string {
  const raw = str(env, "DATABASE_SSLMODE", DEFAULT_SSL_MODE).trim().toLowerCase();
  if (!(SSL_MODES as readonly string[]).includes(raw)) {
    throw new ConfigError(
      "DATABASE_SSLMODE",
      `one of ${SSL_MODES.join(", ")}`,
      env.DATABASE_SSLMODE,
    );
  }
  return raw;
}

function database(env: Env): Config["database"] {
  // Checked even when DATABASE_URL wins (the URL's own sslmode applies then),
  // so a typo never goes unnoticed.
  const ssl = sslMode(env);
  if (env.DATABASE_URL) {
    return { url: url(env, "DATABASE_URL", "", ["postgres:", "postgresql:"]) };
  }
  if (!env.DATABASE_HOST) return undefined;
  const host = env.DATABASE_HOST;
  const port = int(env, "DATABASE_PORT", 5432, 1, 65535);
  const part = (name: string) => encodeURIComponent(str(env, name, "ecommerce"));
  return {
    url: `postgres://${part("DATABASE_USER")}:${part("DATABASE_PASSWORD")}@${host}:${port}/${
      part("DATABASE_NAME")
    }?sslmode=${ssl}`,
  };
}

function serviceConcurrency(env: Env): Config["serviceConcurrency"] {
  const max = int(env, "SERVICE_CONCURRENCY_MAX", 128, 1, 100_000);
  const min = int(env, "SERVICE_CONCURRENCY_MIN", Math.min(2, max), 1, 100_000);
  if (min > max) {
    throw new ConfigError(
      "SERVICE_CONCURRENCY_MIN",
      `at most SERVICE_CONCURRENCY_MAX (${max})`,
      String(min),
    );
  }
  return { min, max };
}

/** Six random hex digits: tells apart processes with the same hostname and pid. */
export function instanceNonce(): string {
  return [...crypto.getRandomValues(new Uint8Array(3))]
    .map((b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * `defaults` make the default INSTANCE_ID, hostname-pid-nonce. The nonce
 * (random unless given) keeps it unique where hostname and pid are not:
 * containers on the host network share the host's name, and each one's
 * process is often pid 1 or 7; two instances with one name would take each
 * other's leases for their own.
 */
export function loadConfig(
  env: Env,
  defaults: { hostname: string; pid: number; nonce?: string },
): Config {
  const logLevel = str(env, "LOG_LEVEL", "info");
  if (!LOG_LEVELS.includes(logLevel)) {
    throw new ConfigError("LOG_LEVEL", `one of ${LOG_LEVELS.join(", ")}`, logLevel);
  }
  const leaseMs = int(env, "LEASE_MS", 10_000, 500, 3_600_000);
  const heartbeatMs = int(env, "HEARTBEAT_MS", Math.floor(leaseMs / 3), 100, 3_600_000);
  // A lease must survive a missed beat: with a beat every half lease or less,
  // one failed renewal still leaves time for the next before the lease ends.
  if (heartbeatMs > leaseMs / 2) {
    throw new ConfigError(
      "HEARTBEAT_MS",
      `at most half of LEASE_MS (${Math.floor(leaseMs / 2)})`,
      String(heartbeatMs),
    );
  }
  const adminHost = str(env, "ADMIN_HOST", "127.0.0.1");
  const operators = parseOperators(env.ADMIN_TOKEN || undefined, env.ADMIN_TOKENS);
  if (!isLoopback(adminHost) && operators.length === 0) {
    throw new ConfigError(
      "ADMIN_TOKEN",
      `a bearer token (or ADMIN_TOKENS), because ADMIN_HOST "${adminHost}" is not a loopback address`,
      undefined,
    );
  }
  const baseMs = int(env, "RETRY_BASE_MS", 200, 1, 3_600_000);
  const maxMs = int(env, "RETRY_MAX_MS", 30_000, 1, 86_400_000);
  if (maxMs < baseMs) {
    throw new ConfigError("RETRY_MAX_MS", `at least RETRY_BASE_MS`, String(maxMs));
  }
  const preparedStatements = bool(env, "DATABASE_PREPARED_STATEMENTS", true);
  const migrate = bool(env, "MIGRATE", true);
  // Migrations hold a session (an advisory lock, index builds outside a
  // transaction): through a transaction pooler its statements would land on
  // different server connections, and the lock could outlive us on one.
  if (migrate && !preparedStatements && !env.LISTEN_DATABASE_URL) {
    throw new ConfigError(
      "MIGRATE",
      "false when DATABASE_PREPARED_STATEMENTS=false and no LISTEN_DATABASE_URL is set " +
        "(migrations need a session; set LISTEN_DATABASE_URL to a direct connection, " +
        "which they then use, or migrate with MIGRATE=true over a direct DATABASE_URL once)",
      "true",
    );
  }
  return {
    pollIntervalMs: int(env, "POLL_INTERVAL_MS", 5000, 10, 3_600_000),
    listen: bool(env, "LISTEN", true),
    services: {
      orders: url(env, "ORDERS_SERVICE_URL", "http://localhost:3003", ["http:", "https:"]),
      inventory: url(env, "INVENTORY_SERVICE_URL", "http://localhost:3001", ["http:", "https:"]),
      payments: url(env, "PAYMENTS_SERVICE_URL", "http://localhost:3002", ["http:", "https:"]),
    },
    database: database(env),
    listenDatabaseUrl: env.LISTEN_DATABASE_URL
      ? url(env, "LISTEN_DATABASE_URL", "", ["postgres:", "postgresql:"])
      : undefined,
    dbPreparedStatements: preparedStatements,
    dataDir: str(env, "DATA_DIR", ".data"),
    embeddedPort: int(env, "EMBEDDED_PG_PORT", 54329, 1, 65535),
    migrate,
    otelServiceName: str(env, "OTEL_SERVICE_NAME", "orchestrator"),
    otelEndpoint: url(env, "OTEL_EXPORTER_OTLP_ENDPOINT", "http://localhost:4318", [
      "http:",
      "https:",
    ]),
    admin: {
      host: adminHost,
      port: int(env, "ADMIN_PORT", 3004, 0, 65535),
      operators,
      enabled: bool(env, "ADMIN_ENABLED", true),
    },
    logLevel,
    instanceId: str(
      env,
      "INSTANCE_ID",
      `${defaults.hostname}-${defaults.pid}-${defaults.nonce ?? instanceNonce()}`,
    ),
    outboxBatchSize: int(env, "OUTBOX_BATCH_SIZE", 100, 1, 10_000),
    outboxMaxAttempts: int(env, "OUTBOX_MAX_ATTEMPTS", 5, 1, 1000),
    sagaConcurrency: int(env, "SAGA_CONCURRENCY", DEFAULT_SAGA_CONCURRENCY, 1, 100_000),
    leaseMs,
    heartbeatMs,
    httpTimeoutMs: int(env, "HTTP_TIMEOUT_MS", 5000, 1, 600_000),
    retry: { baseMs, maxMs },
    maxAttempts: {
      forward: int(env, "STEP_MAX_ATTEMPTS", 5, 1, 1000),
      confirm: int(env, "CONFIRM_MAX_ATTEMPTS", 20, 1, 1000),
      compensation: int(env, "COMPENSATION_MAX_ATTEMPTS", 20, 1, 1000),
    },
    shutdownGraceMs: int(env, "SHUTDOWN_GRACE_MS", 10_000, 0, 600_000),
    inspectUrl: env.INSPECT_URL ? url(env, "INSPECT_URL", "", ["ws:", "wss:"]) : undefined,
    dbPoolSize: int(env, "DB_POOL_SIZE", DEFAULT_DB_POOL_SIZE, 1, 1000),
    serviceConcurrency: serviceConcurrency(env),
    retentionSeconds: int(env, "RETENTION_SECONDS", 30 * 24 * 3600, 0, 100 * 365 * 24 * 3600),
    maintenanceIntervalMs: int(env, "MAINTENANCE_INTERVAL_MS", 60_000, 100, 86_400_000),
    dbLimits: {
      lockTimeoutMs: int(
        env,
        "DB_LOCK_TIMEOUT_MS",
        DEFAULT_SESSION_LIMITS.lockTimeoutMs,
        1,
        600_000,
      ),
      statementTimeoutMs: int(
        env,
        "DB_STATEMENT_TIMEOUT_MS",
        DEFAULT_SESSION_LIMITS.statementTimeoutMs,
        100,
        3_600_000,
      ),
      idleInTransactionTimeoutMs: int(
        env,
        "DB_IDLE_IN_TRANSACTION_TIMEOUT_MS",
        DEFAULT_SESSION_LIMITS.idleInTransactionTimeoutMs,
        1000,
        3_600_000,
      ),
    },
  };
}
