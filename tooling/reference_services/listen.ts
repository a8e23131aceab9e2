// Puts one sandbox app on a real socket; shared by startSandbox and the CLI.
import type { Hono } from "hono";
import type { SandboxState } from "./service.ts";

export interface ListenOptions {
  /** 0 (the default) picks a free port. */
  port?: number;
  hostname?: string;
}

export interface RunningService {
  url: string;
  close(): Promise<void>;
}

export async function listen(
  app: Hono,
  state: SandboxState,
  options: ListenOptions = {},
): Promise<RunningService> {
  const hostname = options.hostname ?? "127.0.0.1";
  const { promise: listening, resolve } = Promise.withResolvers<Deno.NetAddr>();
  // onListen is given so Deno does not print its own "Listening on" line.
  const server = Deno.serve(
    { port: options.port ?? 0, hostname, onListen: (addr) => resolve(addr) },
    app.fetch,
  );
  const addr = await listening;
  const host = hostname.includes(":") ? `[${hostname}]` : hostname;
  let closed: Promise<void> | undefined;
  return {
    url: `http://${host}:${addr.port}`,
    close() {
      // Injected delays are cut short first, or shutdown would wait for them.
      state.close();
      return closed ??= server.shutdown();
    },
  };
}
