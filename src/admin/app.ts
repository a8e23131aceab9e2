// The admin HTTP API (SPEC §7). Health routes need no auth.
import { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import type { Sql } from "../db/client.ts";

export interface AdminDeps {
  sql: Sql;
  listening: () => boolean;
}

export function createAdminApp(deps: AdminDeps) {
  const app = new Hono();
  app.onError((err, c) => {
    if (err instanceof HTTPException) return c.json({ error: err.message }, err.status);
    return c.json({ error: "internal error" }, 500);
  });
  app.notFound((c) => c.json({ error: "not found" }, 404));

  app.get("/healthz", (c) => c.json({ status: "ok" }));
  app.get("/readyz", async (c) => {
    const listen = deps.listening();
    try {
      await deps.sql`SELECT 1`;
      return c.json({ status: "ready", database: "ok", listen }, 200);
    } catch {
      return c.json({ status: "unavailable", database: "unreachable", listen }, 503);
    }
  });
  return app;
}
