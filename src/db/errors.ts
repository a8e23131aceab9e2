// Whose fault is a failed statement? An outbox event may be dead-lettered
// only for a problem with the event itself: a value the database refuses
// (SQLSTATE class 22, data exception; 23, integrity constraint; 54, program
// limit such as an oversized row). A busy, locked, restarting or unreachable
// database, a timeout, a cancelled statement, or a schema problem of ours is
// never the event's fault: the event stays pending and is tried again later,
// however long that takes.
const EVENT_FAULT_CLASSES = new Set(["22", "23", "54"]);

function code(err: unknown): string | undefined {
  const c = (err as { code?: unknown } | null)?.code;
  return typeof c === "string" ? c : undefined;
}

/** A PostgreSQL server error (it carries a five-character SQLSTATE and a severity). */
function isServerError(err: unknown): boolean {
  const c = code(err);
  return c !== undefined && /^[0-9A-Z]{5}$/.test(c) &&
    typeof (err as { severity?: unknown }).severity === "string";
}

/** True when `err` may be caused by the data of the event being applied. */
export function isEventFault(err: unknown): boolean {
  if (isServerError(err)) return EVENT_FAULT_CLASSES.has(code(err)!.slice(0, 2));
  // A connection-level failure (postgres.js CONNECTION_CLOSED, ECONNRESET, …).
  if (code(err) !== undefined) return false;
  // Our own code threw while handling this event's content.
  return true;
}

/** A lock held by another session, or one of our statement limits, cut the statement short. */
export function isLockOrTimeout(err: unknown): boolean {
  const c = code(err);
  return c === "55P03" || c === "57014";
}
