// Bearer-token auth for the admin API. The token is compared in constant
// time: both sides are hashed to 32 bytes first (so a length difference
// leaks nothing either), then compared with node:crypto's timingSafeEqual,
// which never exits early.
import { timingSafeEqual } from "node:crypto";
import type { MiddlewareHandler } from "hono";
import { HTTPException } from "hono/http-exception";

async function sha256(text: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
}

/** True when `given` equals `expected`, in time independent of where they differ. */
export async function tokenMatches(given: string, expected: string): Promise<boolean> {
  const [a, b] = await Promise.all([sha256(given), sha256(expected)]);
  return timingSafeEqual(a, b);
}

/** The credentials of `Authorization: Bearer <token>` (scheme case-insensitive), or null. */
export function bearerToken(header: string | undefined): string | null {
  const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header ?? "");
  return m ? m[1]! : null;
}

/**
 * Requires the token on every request except the `open` paths. Without a
 * configured token it lets everything through (config.ts only allows that
 * on a loopback ADMIN_HOST).
 */
export function requireToken(
  token: string | undefined,
  open: readonly string[],
  compare: (given: string, expected: string) => Promise<boolean> = tokenMatches,
): MiddlewareHandler {
  return async (c, next) => {
    if (token === undefined || open.includes(c.req.path)) return await next();
    const given = bearerToken(c.req.header("authorization"));
    if (given === null || !(await compare(given, token))) {
      c.header("WWW-Authenticate", 'Bearer realm="orchestrator-admin"');
      throw new HTTPException(401, { message: "unauthorized" });
    }
    await next();
  };
}
