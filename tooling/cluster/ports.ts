// Loopback ports for the local cluster's servers.

/** A loopback port that was free a moment ago (bind port 0, read it, close). */
export function freePort(): Promise<number> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return Promise.resolve(port);
}

function portIsFree(port: number): boolean {
  try {
    Deno.listen({ hostname: "127.0.0.1", port }).close();
    return true;
  } catch {
    return false;
  }
}

/**
 * A free port in [20000, 32000), below Linux's default ephemeral range
 * (32768–60999): no client's outgoing connection can take it while a server
 * that listens there is down (a database restarted on the same port).
 */
export function stablePort(): number {
  for (let i = 0; i < 200; i++) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    if (portIsFree(port)) return port;
  }
  throw new Error("no free port in 20000–31999");
}
