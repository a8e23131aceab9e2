// Orchestrator instances as real processes, run exactly like `deno task start`
// (its permission flags are read from deno.json), each with its own
// INSTANCE_ID and ADMIN_PORT.
import { type Child, type ProcessGroup, ROOT } from "./processes.ts";
import { freePort } from "./ports.ts";
import type { ServiceUrls } from "./services.ts";

export const ORCHESTRATOR_TIER = 3;

/** The `--allow-*` flags of the start task in deno.json. */
export function startTaskFlags(): string[] {
  const deno = JSON.parse(Deno.readTextFileSync(new URL("deno.json", ROOT)));
  const task = deno.tasks.start;
  const command: string = typeof task === "string" ? task : task.command;
  return command.split(/\s+/).filter((arg) => arg.startsWith("--"));
}

export interface Instance {
  id: string;
  adminUrl: string;
  child: Child;
}

export interface InstanceOptions {
  id: string;
  databaseUrl: string;
  services: ServiceUrls;
  env?: Record<string, string>;
  logFile?: string;
}

export async function startInstance(group: ProcessGroup, opts: InstanceOptions): Promise<Instance> {
  const port = await freePort();
  const child = group.spawn({
    name: opts.id,
    args: ["run", ...startTaskFlags(), "src/main.ts"],
    env: {
      LOG_LEVEL: "info",
      ...opts.env,
      DATABASE_URL: opts.databaseUrl,
      ORDERS_SERVICE_URL: opts.services.orders,
      INVENTORY_SERVICE_URL: opts.services.inventory,
      PAYMENTS_SERVICE_URL: opts.services.payments,
      INSTANCE_ID: opts.id,
      ADMIN_HOST: "127.0.0.1",
      ADMIN_PORT: String(port),
      ADMIN_ENABLED: "true",
    },
    logFile: opts.logFile,
    tier: ORCHESTRATOR_TIER,
  });
  return { id: opts.id, adminUrl: `http://127.0.0.1:${port}`, child };
}

/**
 * Waits until the instance answers /readyz with the database up (and, when
 * `listen` is set, LISTEN connected). Works at any LOG_LEVEL.
 */
export async function waitReady(
  instance: Instance,
  opts: { listen: boolean; timeoutMs?: number },
): Promise<void> {
  const until = Date.now() + (opts.timeoutMs ?? 60_000);
  for (;;) {
    if (instance.child.exited) {
      throw new Error(`${instance.id} exited during start-up:\n${instance.child.tail()}`);
    }
    try {
      const res = await fetch(`${instance.adminUrl}/readyz`);
      const body = await res.json();
      if (res.ok && (!opts.listen || body.listen === true)) return;
    } catch { /* not listening yet */ }
    if (Date.now() > until) {
      throw new Error(
        `${instance.id} not ready after ${opts.timeoutMs ?? 60_000} ms:\n${instance.child.tail()}`,
      );
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}
