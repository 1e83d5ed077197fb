import { createServer } from "node:http";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import type { PageBench } from "./page-client.js";
import type { MeasureWindow, ReceiverReport } from "./messages.js";

const CHROMIUM = "/usr/bin/chromium";
const ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];

export interface BrowserViewer {
  ready(): Promise<boolean>;
  measure(window: MeasureWindow): Promise<void>;
  expect(printed: Record<string, number>): Promise<void>;
  complete(): Promise<boolean>;
  report(): Promise<ReceiverReport>;
  close(): Promise<void>;
}

type BenchWindow = { bench: PageBench };

/**
 * One real Chromium page (Debian's, headless, fresh profile) showing one board's live log through the gateway: a
 * minimal page served here, with socket.io-client bundled by esbuild. Never downloads a browser.
 */
export async function openBrowserViewer(opts: { gateway: string; token: string; board: string }): Promise<BrowserViewer> {
  const bundle = await build({
    entryPoints: [fileURLToPath(new URL("./page-client.ts", import.meta.url))],
    bundle: true,
    write: false,
    format: "iife",
    platform: "browser",
    target: "es2022",
    logLevel: "silent",
  });
  const script = bundle.outputFiles[0]?.text ?? "";
  const html = `<!doctype html><meta charset="utf-8"><title>log bench: ${opts.board}</title><pre id="log"></pre><script src="/client.js"></script>`;
  const server = createServer((req, res) => {
    const isScript = req.url === "/client.js";
    res.writeHead(200, { "content-type": isScript ? "text/javascript" : "text/html; charset=utf-8" });
    res.end(isScript ? script : html);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const addr = server.address();
  const port = typeof addr === "object" && addr ? addr.port : 0;
  const profile = await mkdtemp(join(tmpdir(), "hil-bench-chromium-"));
  let context: BrowserContext | undefined;
  const closeAll = async () => {
    await context?.close().catch(() => undefined);
    server.close();
    server.closeAllConnections();
    await rm(profile, { recursive: true, force: true });
  };
  try {
    context = await chromium
      .launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: ARGS })
      .catch((err: Error) => {
        throw new Error(`cannot start ${CHROMIUM} (install Debian's chromium, or run the bench with --no-browser): ${err.message}`, { cause: err });
      });
    const page: Page = context.pages()[0] ?? (await context.newPage());
    const query = new URLSearchParams({ gateway: opts.gateway, token: opts.token, board: opts.board });
    await page.goto(`http://127.0.0.1:${port}/?${query.toString()}`);
    await page.evaluate(() => (window as unknown as BenchWindow).bench.joined);
    return {
      ready: () => page.evaluate(() => (window as unknown as BenchWindow).bench.ready()),
      measure: (w) => page.evaluate((x) => (window as unknown as BenchWindow).bench.measure(x), w),
      expect: (p) => page.evaluate((x) => (window as unknown as BenchWindow).bench.expect(x), p),
      complete: () => page.evaluate(() => (window as unknown as BenchWindow).bench.complete()),
      report: () => page.evaluate(() => (window as unknown as BenchWindow).bench.report()),
      close: closeAll,
    };
  } catch (err) {
    await closeAll();
    throw err;
  }
}
