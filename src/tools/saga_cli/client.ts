// The admin API as the saga CLI sees it: JSON in, JSON out, and every way a
// call can fail as an error class of its own, each with a message a person
// can act on.

/** The API answered, and refused (4xx/5xx): its `{"error"}` message and status. */
export class AdminApiError extends Error {
  override name = "AdminApiError";
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

/** The API could not be reached at all (refused, unknown host, timed out, not permitted). */
export class AdminUnreachableError extends Error {
  override name = "AdminUnreachableError";
}

/** What the CLI was given to find the API: a bad ADMIN_URL. */
export class AdminUrlError extends Error {
  override name = "AdminUrlError";
}

export const DEFAULT_ADMIN_URL = "http://127.0.0.1:3004";
const TIMEOUT_MS = 10_000;

export interface AdminClient {
  readonly url: string;
  get<T = unknown>(path: string): Promise<T>;
  post<T = unknown>(path: string, body?: unknown): Promise<T>;
}

export function adminClient(rawUrl: string | undefined, token: string | undefined): AdminClient {
  const url = baseUrl(rawUrl);
  const call = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const headers: Record<string, string> = { accept: "application/json" };
    if (token) headers.authorization = `Bearer ${token}`;
    if (body !== undefined) headers["content-type"] = "application/json";
    let res: Response;
    try {
      res = await fetch(`${url}${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(TIMEOUT_MS),
      });
    } catch (err) {
      throw new AdminUnreachableError(unreachable(url, err));
    }
    const text = await res.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new AdminApiError(res.status, `unexpected answer (not JSON) from ${url}${path}`);
    }
    if (!res.ok) {
      const message = (json as { error?: unknown })?.error;
      throw new AdminApiError(res.status, typeof message === "string" ? message : res.statusText);
    }
    return json as T;
  };
  return {
    url,
    get: (path) => call("GET", path),
    post: (path, body) => call("POST", path, body),
  };
}

function baseUrl(raw: string | undefined): string {
  const text = raw === undefined || raw.trim() === "" ? DEFAULT_ADMIN_URL : raw.trim();
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    throw new AdminUrlError(`ADMIN_URL is not a URL: "${text.slice(0, 200)}"`);
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") {
    throw new AdminUrlError(`ADMIN_URL must be http:// or https://, got "${u.protocol}"`);
  }
  if (u.username || u.password) {
    throw new AdminUrlError("ADMIN_URL must not carry credentials: set ADMIN_TOKEN instead");
  }
  return u.href.replace(/\/+$/, "");
}

function unreachable(url: string, err: unknown): string {
  const where = `the admin API at ${url}`;
  if (err instanceof Deno.errors.NotCapable || err instanceof Deno.errors.PermissionDenied) {
    const host = new URL(url).host;
    return `${where} is not in this task's network permission (--allow-net to the loopback ` +
      `host only). For another host run: deno run --allow-net=${host} ` +
      `--allow-env=ADMIN_URL,ADMIN_TOKEN src/tools/saga_cli.ts …`;
  }
  if (err instanceof DOMException && err.name === "TimeoutError") {
    return `${where} did not answer within ${TIMEOUT_MS / 1000} s`;
  }
  // fetch reports a refused connection as a TypeError ("fetch failed") whose cause says so.
  const cause = (err as { cause?: unknown })?.cause ?? err;
  const message = String((cause as Error)?.message ?? cause);
  if (cause instanceof Deno.errors.ConnectionRefused || /connection refused/i.test(message)) {
    return `${where} refused the connection: is the orchestrator running, on that ADMIN_URL?`;
  }
  return `cannot reach ${where}: ${message}`;
}
