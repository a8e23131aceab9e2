// Liveness and readiness; both open (no token) so orchestrators and load
// balancers can probe them. Readiness asks the database with a short bound:
// a probe must answer even while the database hangs.
import { Hono } from "hono";
import type { Sql } from "../db/client.ts";
import { pingDatabase } from "../db/admin_reads.ts";
import type { Liveness } from "../engine/watchdog.ts";

export const HEALTH_PATHS = ["/healthz", "/readyz"] as const;

const READY_TIMEOUT_MS = 2000;

export interface HealthDeps {
  sql: Sql;
  listening: () => boolean;
  /** Why LISTEN is not working (e.g. its probe notification never arrived). */
  listenReason?: () => string | null;
  /** The watchdog (src/engine/watchdog.ts); without one the process counts as alive. */
  liveness?: () => Liveness;
}

export function healthRoutes(deps: HealthDeps): Hono {
  const app = new Hono();
  app.get("/healthz", (c) => {
    const live = deps.liveness?.();
    if (live && !live.alive) return c.json({ status: "stalled", reasons: live.reasons }, 503);
    return c.json({ status: "ok" });
  });
  app.get("/readyz", async (c) => {
    const listen = deps.listening();
    // Polling-only is still ready (polling is the guarantee), but say why.
    const reason = listen ? null : deps.listenReason?.() ?? null;
    const listenPart = reason ? { listen, listen_reason: reason } : { listen };
    const live = deps.liveness?.();
    const watchdog = live ? { watchdog: live } : {};
    if (live && !live.alive) {
      return c.json({ status: "stalled", reasons: live.reasons, ...listenPart, ...watchdog }, 503);
    }
    if (await databaseAnswers(deps.sql)) {
      return c.json({ status: "ready", database: "ok", ...listenPart, ...watchdog }, 200);
    }
    return c.json({
      status: "unavailable",
      database: "unreachable",
      reasons: ["the database does not answer"],
      ...listenPart,
      ...watchdog,
    }, 503);
  });
  return app;
}

async function databaseAnswers(sql: Sql): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      pingDatabase(sql).then(() => true),
      new Promise<boolean>((resolve) => timer = setTimeout(() => resolve(false), READY_TIMEOUT_MS)),
    ]);
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}
