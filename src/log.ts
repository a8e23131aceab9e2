// The one logger. Synchronous pino JSON lines on stdout (the simple,
// safe choice); secrets are redacted by path so no call site has to remember.
import pino from "pino";

export type Logger = pino.Logger;

const REDACT = [
  "password",
  "token",
  "authorization",
  "databaseUrl",
  "*.password",
  "*.token",
  "*.authorization",
  "*.databaseUrl",
  "*.adminToken",
];

export function createLogger(level = "info", base: Record<string, unknown> = {}): Logger {
  return pino({
    level,
    base,
    redact: { paths: REDACT, censor: "[redacted]" },
    timestamp: pino.stdTimeFunctions.isoTime,
  });
}

/** Writes any buffered lines; call before exiting (Deno.exit skips pino's hooks). */
export function flushLogger(logger: Logger): Promise<void> {
  return new Promise((resolve) => logger.flush(() => resolve()));
}

/** A logger that drops everything: for library code used in tests without a logger. */
// No base fields: pino would read the host name, a permission tools and tests may lack.
export const silentLogger: Logger = pino({ level: "silent", base: null });
