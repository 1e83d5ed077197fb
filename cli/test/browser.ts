// Debian's Chromium driven by playwright-core for the dashboard's end-to-end tests: never a downloaded
// browser. HIL_CHROMIUM overrides the path. The browser is closed, and then killed by PID, by stop().
import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { chromium, type Browser } from "playwright-core";
import { REPO_ROOT } from "@hil/test-kit";

export const CHROMIUM = process.env["HIL_CHROMIUM"] ?? "/usr/bin/chromium";

/** Where the tests put their screenshots (ignored by git; docs/ has a few chosen ones). */
export const SCREENSHOT_DIR = join(REPO_ROOT, "test-output", "dashboard");

export interface LabBrowser {
  browser: Browser;
  stop(): Promise<void>;
}

export async function startBrowser(): Promise<LabBrowser> {
  if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}: install Debian's chromium (npm test installs it as root), or set HIL_CHROMIUM`);
  await mkdir(SCREENSHOT_DIR, { recursive: true });
  const server = await chromium.launchServer({
    executablePath: CHROMIUM,
    // the machine's network is closed: no background fetches, no QUIC, no component updates
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"],
  });
  const pid = server.process().pid;
  const browser = await chromium.connect(server.wsEndpoint());
  return {
    browser,
    async stop() {
      await browser.close().catch(() => {});
      await server.close().catch(() => {});
      if (pid) {
        try {
          process.kill(pid, "SIGKILL");
        } catch {
          // already gone
        }
      }
    },
  };
}
