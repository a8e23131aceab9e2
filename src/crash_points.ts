// Named crash points in production code (after DBOS's debugpoints): with
// CRASH_POINT=<name> the process kills itself with SIGKILL the Nth time
// (CRASH_POINT_HIT, default 1) it passes that point. Tests use them to prove
// crash safety at exactly the dangerous spots. Off (the default), a call is
// one comparison against a constant.
//
// Names: after_claim_saga, after_claim_outbox, before_settle_outbox,
// before_call:<step>, after_call:<step>, before_persist, after_persist.
import process from "node:process";

const target = Deno.env.get("CRASH_POINT") ?? "";
const hit = Number(Deno.env.get("CRASH_POINT_HIT") ?? "1") || 1;
let seen = 0;

export const CRASH_POINTS_ENABLED = target !== "";

export function crashPoint(name: string): void {
  if (!CRASH_POINTS_ENABLED || name !== target) return;
  if (++seen < hit) return;
  // Straight to SIGKILL: no finally blocks, no shutdown hooks, like a power cut.
  process.stderr.write(`crash point ${name} reached: killing the process\n`);
  Deno.kill(Deno.pid, "SIGKILL");
}
