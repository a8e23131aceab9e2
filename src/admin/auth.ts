// Bearer-token auth for the admin API. A token is compared in constant time:
// both sides are hashed to 32 bytes first (so a length difference leaks
// nothing either), then compared with node:crypto's timingSafeEqual, which
// never exits early. With several operators the given token is compared with
// every one of theirs, whichever matches, so the time does not say which.
// The matching operator's name is put on the request (`operator`) for the
// routes to record.
import { timingSafeEqual } from "node:crypto";
import type { MiddlewareHandler } from "hono";
import { HTTPException } from "hono/http-exception";
import { ANONYMOUS_OPERATOR, type Operator } from "./operators.ts";

/** Hono's typed request variables of the admin app. */
export type AdminEnv = { Variables: { operator: string } };

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
 * Requires an operator's token on every request except the `open` paths.
 * Without any operator it lets everything through as "anonymous" (config.ts
 * only allows that on a loopback ADMIN_HOST).
 */
export function requireToken(
  operators: readonly Operator[],
  open: readonly string[],
  compare: (given: string, expected: string) => Promise<boolean> = tokenMatches,
): MiddlewareHandler<AdminEnv> {
  return async (c, next) => {
    if (operators.length === 0) {
      c.set("operator", ANONYMOUS_OPERATOR);
      return await next();
    }
    if (open.includes(c.req.path)) return await next();
    const given = bearerToken(c.req.header("authorization"));
    let operator: string | null = null;
    if (given !== null) {
      // Every comparison runs; none is skipped once one matched.
      const matches = await Promise.all(operators.map((o) => compare(given, o.token)));
      matches.forEach((m, i) => operator ??= m ? operators[i]!.name : null);
    }
    if (operator === null) {
      c.header("WWW-Authenticate", 'Bearer realm="orchestrator-admin"');
      throw new HTTPException(401, { message: "unauthorized" });
    }
    c.set("operator", operator);
    await next();
  };
}
