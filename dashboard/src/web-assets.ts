import { existsSync } from "node:fs";
import { readFile, stat } from "node:fs/promises";
import type { IncomingMessage, ServerResponse } from "node:http";
import { dirname, extname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** Where `npm run build` puts the bundled browser app (dashboard/scripts/build-web.mjs). */
export function webDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  // from dist/src/ the bundle is ../web; from src/ (run from source) it is ../dist/web
  const candidates = [join(here, "..", "web"), join(here, "..", "dist", "web")];
  return candidates.find((d) => existsSync(join(d, "index.html"))) ?? candidates[1]!;
}

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".map": "application/json",
  ".svg": "image/svg+xml",
};

/**
 * The page's own policy: scripts and connections only from this origin, nothing framed. Styles may be
 * inline because xterm.js sizes its rows with a generated style sheet; no script is ever inline.
 */
const PAGE_HEADERS = {
  "Content-Security-Policy":
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  "X-Content-Type-Options": "nosniff",
  "Referrer-Policy": "no-referrer",
  "X-Frame-Options": "DENY",
};

type Next = (err?: unknown) => void;

/**
 * Serves the browser app: `/` is the page, `/ui/<file>` its bundle. Anything else goes on to `next`
 * (the API, socket.io). Connect-style, so both the scheduler's express app and a bare HTTP server can use it.
 */
export function webAssets(dir = webDir()): (req: IncomingMessage, res: ServerResponse, next: Next) => void {
  return (req, res, next) => {
    if (req.method !== "GET" && req.method !== "HEAD") return next();
    const path = (req.url ?? "/").split("?")[0]!;
    let file: string | undefined;
    if (path === "/" || path === "/index.html") file = "index.html";
    else if (/^\/ui\/[A-Za-z0-9_-][A-Za-z0-9_.-]*$/.test(path)) file = path.slice(4);
    if (!file) return next();
    const full = join(dir, file);
    stat(full)
      .then(async (st) => {
        if (!st.isFile()) throw new Error("not a file");
        const etag = `"${st.size.toString(16)}-${Math.floor(st.mtimeMs).toString(16)}"`;
        const headers: Record<string, string> = { ...PAGE_HEADERS, "Content-Type": TYPES[extname(file!)] ?? "application/octet-stream", "Cache-Control": "no-cache", ETag: etag };
        if (req.headers["if-none-match"] === etag) {
          res.writeHead(304, headers);
          return void res.end();
        }
        const body = await readFile(full);
        res.writeHead(200, { ...headers, "Content-Length": String(body.length) });
        res.end(req.method === "HEAD" ? undefined : body);
      })
      .catch(() => {
        if (file === "index.html") {
          res.writeHead(503, { "Content-Type": "text/plain; charset=utf-8" });
          return void res.end("The dashboard is not built yet: run `npm run build` (npm run lab does it).\n");
        }
        res.writeHead(404, { "Content-Type": "text/plain; charset=utf-8" });
        res.end("not found\n");
      });
  };
}
