// The admin page (GET /) and its static files (GET /ui/*): plain HTML, CSS
// and ES modules from this folder, no build step and nothing from a CDN, so
// it works offline. The page holds no data: it reads the JSON API with the
// operator's bearer token. Mount it before the token middleware, so a
// browser can load the page and then be asked for the token.
import type { Env, Hono } from "hono";
import { HTTPException } from "hono/http-exception";

/** The files served, with their content types: nothing else in this folder is reachable. */
const FILES: Record<string, string> = {
  "index.html": "text/html; charset=utf-8",
  "ui/app.js": "text/javascript; charset=utf-8",
  "ui/chart.js": "text/javascript; charset=utf-8",
  "ui/app.css": "text/css; charset=utf-8",
};

const HEADERS = {
  // Everything comes from this origin; the page never runs inline script.
  "content-security-policy":
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; " +
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  // Revalidate each time: a new release must not run an old page against a new API.
  "cache-control": "no-cache",
};

const cache = new Map<string, Promise<Uint8Array>>();

function load(name: string): Promise<Uint8Array> {
  let file = cache.get(name);
  if (!file) {
    file = Deno.readFile(new URL(name, import.meta.url));
    file.catch(() => cache.delete(name)); // a failed read is retried next time
    cache.set(name, file);
  }
  return file;
}

async function serve(name: string): Promise<Response> {
  const type = FILES[name];
  if (!type) throw new HTTPException(404, { message: "not found" });
  const body = await load(name);
  return new Response(body as Uint8Array<ArrayBuffer>, {
    headers: { ...HEADERS, "content-type": type },
  });
}

/** Paths the page needs without a token (for an auth middleware's allow-list). */
export const ADMIN_PAGE_PATHS = [
  "/",
  ...Object.keys(FILES).filter((f) => f.startsWith("ui/"))
    .map((f) => `/${f}`),
];

export function mountAdminPage<E extends Env>(app: Hono<E>): void {
  app.get("/", () => serve("index.html"));
  app.get("/ui/:file", (c) => serve(`ui/${c.req.param("file")}`));
}
