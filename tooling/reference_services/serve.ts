// CLI: runs the reference services as a real process, for the demo, the
// benchmark and manual poking. Prints one JSON line per service once it
// listens, so a parent process can read the URL; exits 0 on SIGTERM/SIGINT.
//
//   deno run --allow-net --allow-env tooling/reference_services/serve.ts orders|inventory|payments|all \
//     [--port N] [--hostname H] [--latency-ms N] [--error-rate F] [--decline-rate F] \
//     [--default-stock N]
import { parseArgs } from "node:util";
import type { Hono } from "hono";
import type { FaultConfig } from "./faults.ts";
import { createInventoryApp } from "./inventory.ts";
import { listen, type RunningService } from "./listen.ts";
import { createOrdersApp } from "./orders.ts";
import { createPaymentsApp } from "./payments.ts";
import type { SandboxState } from "./service.ts";
import type { ServiceName } from "./stats.ts";
import { complain, say } from "../../src/cli_output.ts";

/** The services' documented default ports. */
export const DEFAULT_PORTS: Record<ServiceName, number> = {
  orders: 3003,
  inventory: 3001,
  payments: 3002,
};

const USAGE = "usage: serve.ts orders|inventory|payments|all [--port N] [--hostname H] " +
  "[--latency-ms N] [--error-rate F] [--decline-rate F] [--default-stock N]";

function usage(message: string): never {
  complain(`${message}\n${USAGE}`);
  Deno.exit(2);
}

function number(name: string, value: string | undefined, min: number, max: number) {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === "" || !Number.isFinite(n) || n < min || n > max) {
    usage(`--${name}: expected a number from ${min} to ${max}, got "${value}"`);
  }
  return n;
}

async function main(args: string[]): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      options: {
        port: { type: "string" },
        hostname: { type: "string", default: "127.0.0.1" },
        "latency-ms": { type: "string" },
        "error-rate": { type: "string" },
        "decline-rate": { type: "string" },
        "default-stock": { type: "string" },
      },
    });
  } catch (error) {
    usage(error instanceof Error ? error.message : String(error));
  }
  const { values, positionals } = parsed;
  const which = positionals[0];
  if (positionals.length !== 1 || !which) usage("expected exactly one service name");
  const names: ServiceName[] = which === "all"
    ? ["orders", "inventory", "payments"]
    : which === "orders" || which === "inventory" || which === "payments"
    ? [which]
    : usage(`unknown service "${which}"`);
  const port = number("port", values.port, 0, 65535);
  // One port cannot serve three services; 0 (a free port each) can.
  if (names.length > 1 && port !== undefined && port !== 0) {
    usage("--port with 'all' must be 0 (each service gets a free port)");
  }
  const faults: FaultConfig = {
    latencyMs: number("latency-ms", values["latency-ms"], 0, 3_600_000),
    errorRate: number("error-rate", values["error-rate"], 0, 1),
  };
  const declineRate = number("decline-rate", values["decline-rate"], 0, 1);
  const defaultStock = number("default-stock", values["default-stock"], 0, Number.MAX_SAFE_INTEGER);

  const build: Record<ServiceName, () => { app: Hono; state: SandboxState }> = {
    orders: () => createOrdersApp({ faults }),
    inventory: () => createInventoryApp({ faults, defaultStock }),
    payments: () => createPaymentsApp({ faults, declineRate }),
  };

  const running: RunningService[] = [];
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await Promise.all(running.map((service) => service.close()));
    Deno.exit(0);
  };
  Deno.addSignalListener("SIGTERM", stop);
  Deno.addSignalListener("SIGINT", stop);

  for (const name of names) {
    const { app, state } = build[name]();
    const service = await listen(app, state, {
      port: port ?? DEFAULT_PORTS[name],
      hostname: values.hostname,
    });
    running.push(service);
    say(JSON.stringify({ service: name, url: service.url }));
  }
}

if (import.meta.main) {
  main(Deno.args).catch((error) => {
    complain(error instanceof Error ? error.message : String(error));
    Deno.exit(1);
  });
}
