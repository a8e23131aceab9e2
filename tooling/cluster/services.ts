// The reference Orders / Inventory / Payments services, each as its own
// process (tooling/reference_services/serve.ts --port 0), found by the JSON URL line it prints.
import type { ServiceName } from "../reference_services/mod.ts";
import type { Child, ProcessGroup } from "./processes.ts";

export type ServiceUrls = Record<ServiceName, string>;

export const SERVICE_TIER = 2;
export const SERVICE_NAMES: ServiceName[] = ["orders", "inventory", "payments"];

export interface Services {
  urls: ServiceUrls;
  children: Record<ServiceName, Child>;
}

/** One service process on a free port; resolves with its URL once it listens. */
export async function startService(
  group: ProcessGroup,
  name: ServiceName,
  opts: { logFile?: string; args?: string[] } = {},
): Promise<{ url: string; child: Child }> {
  const child = group.spawn({
    name,
    // The same permissions as `deno task sandbox`.
    args: [
      "run",
      "--allow-net",
      "--allow-env",
      "tooling/reference_services/serve.ts",
      name,
      "--port",
      "0",
      ...(opts.args ?? []),
    ],
    logFile: opts.logFile,
    tier: SERVICE_TIER,
  });
  const url = await child.waitForLine((line) => {
    try {
      const parsed = JSON.parse(line);
      return parsed?.service === name && typeof parsed.url === "string"
        ? parsed.url as string
        : undefined;
    } catch {
      return undefined;
    }
  });
  return { url, child };
}

export async function startServices(
  group: ProcessGroup,
  opts: { logDir?: string; args?: string[] } = {},
): Promise<Services> {
  const started = await Promise.all(SERVICE_NAMES.map(async (name) => ({
    name,
    ...await startService(group, name, {
      logFile: opts.logDir ? `${opts.logDir}/${name}.log` : undefined,
      args: opts.args,
    }),
  })));
  const urls = Object.fromEntries(started.map((s) => [s.name, s.url])) as ServiceUrls;
  const children = Object.fromEntries(started.map((s) => [s.name, s.child])) as Record<
    ServiceName,
    Child
  >;
  return { urls, children };
}
