// The few error classes callers actually branch on. Everything else is a plain Error.

/** A configuration value is missing or malformed: start-up exits with code 2. */
export class ConfigError extends Error {
  override name = "ConfigError";
  constructor(
    readonly variable: string,
    readonly expected: string,
    readonly value: string | undefined,
    options?: ErrorOptions,
  ) {
    super(
      `Invalid ${variable}: expected ${expected}, got ${
        value === undefined ? "nothing" : `"${value}"`
      }`,
      options,
    );
  }
}

/** An outbox event can never be applied: it is dead-lettered with this message. */
export class PoisonEventError extends Error {
  override name = "PoisonEventError";
}

/** A persisted snapshot no longer loads into any registered machine version. */
export class SnapshotError extends Error {
  override name = "SnapshotError";
}

/**
 * Migrations could not be applied: start-up stops. The message says which
 * migration (also in `migration`, when one was running) and why.
 */
export class MigrationError extends Error {
  override name = "MigrationError";
  constructor(message: string, readonly migration?: string, options?: ErrorOptions) {
    super(message, options);
  }
}
