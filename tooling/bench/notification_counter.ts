// Counts the notifications producers actually send on the outbox's channel,
// from a LISTEN connection of the benchmark's own (the orchestrator's coalesces
// them into wake-ups, so its metrics cannot say how many there were).
import postgres from "postgres";
import { CHANNEL } from "../../src/db/listener.ts";

export interface NotificationCounter {
  count(): number;
  stop(): Promise<void>;
}

/** Resolves once LISTEN is in place: nothing sent after that is missed. */
export async function countNotifications(url: string): Promise<NotificationCounter> {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  let count = 0;
  try {
    await sql.listen(CHANNEL, () => count++);
  } catch (err) {
    await sql.end({ timeout: 1 });
    throw err;
  }
  return {
    count: () => count,
    stop: () => sql.end({ timeout: 1 }),
  };
}
