// Operators of the admin API: each bearer token belongs to a name, and the
// name goes into the record of every action taken with it (saga history,
// logs). ADMIN_TOKENS lists them as `name:token,name2:token2`; the single
// ADMIN_TOKEN of earlier releases is the operator "admin".
import { ConfigError } from "../errors.ts";

export interface Operator {
  name: string;
  token: string;
}

/** The operator name of ADMIN_TOKEN. */
export const SINGLE_TOKEN_OPERATOR = "admin";
/** The name recorded when the API has no token at all (allowed on loopback only). */
export const ANONYMOUS_OPERATOR = "anonymous";

const NAME = /^[A-Za-z0-9_.@-]{1,64}$/;
// What bearerToken() (auth.ts) can read back from a header: no spaces. No
// commas either: they separate the entries.
const TOKEN = /^[^\s,]+$/;

/**
 * Every operator ADMIN_TOKEN and ADMIN_TOKENS define, in that order. Throws
 * a ConfigError naming the variable; its message shows the names, never a
 * token. One name may hold several tokens (to rotate one); a token may
 * belong to one operator only.
 */
export function parseOperators(
  adminToken: string | undefined,
  adminTokens: string | undefined,
): Operator[] {
  const operators: Operator[] = [];
  if (adminToken) operators.push({ name: SINGLE_TOKEN_OPERATOR, token: adminToken });
  if (adminTokens === undefined || adminTokens.trim() === "") return operators;

  const entries = adminTokens.split(",").map((e) => e.trim());
  const refuse = (why: string): never => {
    throw new ConfigError(
      "ADMIN_TOKENS",
      `comma-separated name:token pairs (names of letters, digits and _ . @ -, ` +
        `tokens without spaces, each token once); ${why}`,
      redacted(entries),
    );
  };
  entries.forEach((entry, i) => {
    const at = entry.indexOf(":");
    const name = at < 0 ? "" : entry.slice(0, at);
    const token = at < 0 ? "" : entry.slice(at + 1);
    if (at < 0) refuse(`entry ${i + 1} has no "name:" part`);
    if (!NAME.test(name)) refuse(`entry ${i + 1} has an invalid name`);
    if (!TOKEN.test(token)) refuse(`entry ${i + 1} (${name}) has an empty or invalid token`);
    const owner = operators.find((o) => o.token === token);
    if (owner) refuse(`entry ${i + 1} (${name}) repeats the token of ${owner.name}`);
    operators.push({ name, token });
  });
  return operators;
}

/** The variable as an error message may show it: names kept, tokens replaced. */
function redacted(entries: string[]): string {
  return entries.map((e) => {
    const name = e.slice(0, Math.max(0, e.indexOf(":")));
    return NAME.test(name) ? `${name}:***` : "***";
  }).join(",");
}

/** How an operator action is signed in saga_history.instance_id and in logs. */
export function actorName(operator: string, instanceId: string): string {
  return `admin:${operator}@${instanceId}`;
}
