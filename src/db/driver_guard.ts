// postgres.js 3.4.9 can throw from a setImmediate callback when a connection
// closes while a transaction is in flight (porsager/postgres#1208, unfixed):
// begin() queues its ROLLBACK on a socket that is already gone. That
// TypeError cannot be caught where the query was made, and would end the
// process during a database restart. The transaction has already failed with
// CONNECTION_CLOSED and the pool reconnects, so exactly this error is logged
// and absorbed; any other uncaught error still ends the process.
//
// The match does not depend on the installed version (an upgrade must not
// switch the guard off silently); test/driver_guard_test.ts fails when the
// pinned postgres.js is not the version this was verified on, so whoever
// upgrades re-checks whether the race still exists.
import type { Logger } from "../log.ts";

export function isDriverWriteRace(err: unknown): boolean {
  return err instanceof TypeError &&
    err.message.includes("reading 'write'") &&
    /node_modules\/postgres\/(src|cjs\/src)\/connection\.js/.test(
      err.stack ?? "",
    );
}

/** The postgres.js release the race was reproduced on (and the guard verified against). */
export const VERIFIED_POSTGRES_VERSION = "3.4.9";

let installed = false;

export function guardDriverWriteRace(logger: Logger): void {
  if (installed) return;
  installed = true;
  globalThis.addEventListener("error", (event) => {
    if (!isDriverWriteRace(event.error)) return;
    event.preventDefault();
    logger.warn(
      { err: String(event.error) },
      "Database connection closed mid-transaction; absorbed a known postgres.js write race",
    );
  });
}
