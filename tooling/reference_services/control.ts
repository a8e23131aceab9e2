// The admin surface mounted under /_control on every service: read stats,
// change faults at run time, reset between tests.
import { Hono } from "hono";
import { faultConfigSchema } from "./faults.ts";
import { handleError, handleNotFound, readJson } from "./http.ts";
import type { SandboxState } from "./service.ts";

export function createControlApp(state: SandboxState, extra?: (control: Hono) => void): Hono {
  const control = new Hono();
  control.onError(handleError);
  control.notFound(handleNotFound);

  // ?log=false leaves out the effect log, which can be large after a benchmark;
  // ?keys=true adds the calls per Idempotency-Key, as large.
  control.get("/stats", (c) => {
    const log = c.req.query("log");
    const keys = c.req.query("keys");
    return c.json(
      state.stats({ log: log !== "false" && log !== "0", keys: keys === "true" || keys === "1" }),
    );
  });

  control.get("/faults", (c) => c.json(state.faults.config));

  control.post("/faults", async (c) => {
    state.setFaults(await readJson(c, faultConfigSchema));
    return c.json(state.faults.config);
  });

  control.post("/reset", (c) => {
    state.reset();
    return c.json({ status: "reset" });
  });

  extra?.(control);
  return control;
}
