import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { LabError, type Suite } from "@hil/contracts";
import { loadProfileFile, loadProfiles, type DeviceProfile } from "@hil/device-profiles";
import { findSuite, loadSuiteFile } from "@hil/test-suites";
import { createLink } from "../links/open-link.js";
import { writeResults, type WrittenResults } from "../results/write-results.js";
import { ControlSocketReset } from "./control-socket-reset.js";
import { createEsp32Target } from "./esp32-target.js";
import { runSuite, type SuiteResult } from "./run-suite.js";

export interface LocalTestOptions {
  /** Device path, PTY or rfc2217://host:port */
  port: string;
  /** Profile id or a profile YAML file. */
  profile: string;
  /** Suite name or a suite YAML file. */
  suite: string;
  /** artifact name → file */
  artifacts: Record<string, string>;
  /** Results directory (junit.xml, result.json, console.log). */
  outDir: string;
  /** Also write the JUnit XML here. */
  junitPath?: string;
  /** Board id used in logs and results; default derived from the port. */
  boardId?: string;
  /** The board must report this MAC before a flash. */
  expectedMac?: string;
  signal?: AbortSignal;
  onLine?: (text: string) => void;
  onStep?: (line: string) => void;
  /** Driver chatter (esptool-js); verbose. */
  log?: (msg: string) => void;
  /** Facts a user should see (how the board is reset, …). */
  onNotice?: (msg: string) => void;
}

export interface LocalTestReport {
  result: SuiteResult;
  files: WrittenResults;
  suite: Suite;
  profile: DeviceProfile;
}

const looksLikeFile = (s: string) => /\.(ya?ml|json)$/i.test(s) || s.includes("/");

async function resolveSuite(nameOrPath: string): Promise<Suite> {
  if (looksLikeFile(nameOrPath)) {
    if (!existsSync(nameOrPath)) throw new LabError("USAGE", `suite file ${nameOrPath} does not exist`);
    return loadSuiteFile(nameOrPath);
  }
  const suite = await findSuite(nameOrPath);
  if (!suite) throw new LabError("USAGE", `no suite named "${nameOrPath}"; see \`hil suites list\` or pass a suite file`);
  return suite;
}

async function resolveProfile(idOrPath: string): Promise<DeviceProfile> {
  if (looksLikeFile(idOrPath)) {
    if (!existsSync(idOrPath)) throw new LabError("USAGE", `profile file ${idOrPath} does not exist`);
    return loadProfileFile(idOrPath);
  }
  const profiles = await loadProfiles();
  const p = profiles.get(idOrPath);
  if (!p) throw new LabError("USAGE", `no profile named "${idOrPath}"; known: ${[...profiles.keys()].join(", ")}`);
  return p;
}

function boardIdFor(port: string): string {
  const tail = port.replace(/^rfc2217:\/\//, "").replace(/[^a-zA-Z0-9._-]+/g, "-").toLowerCase();
  return `local-${tail.replace(/^-+/, "")}`.slice(0, 63).replace(/-+$/, "");
}

/**
 * `hil test`: one suite on one board reached directly (no scheduler): open the port, run, write
 * results. Usage problems throw LabError USAGE before the board is touched.
 */
export async function runLocalTest(opts: LocalTestOptions): Promise<LocalTestReport> {
  const suite = await resolveSuite(opts.suite);
  const profile = await resolveProfile(opts.profile);
  if (profile.kind !== "esp32") throw new LabError("USAGE", `profile ${profile.id} is an ${profile.kind} profile; hil test drives ESP32 boards so far`);
  const roles = Object.keys(suite.roles);
  if (roles.length !== 1) throw new LabError("USAGE", `suite ${suite.name} needs ${roles.length} boards (${roles.join(", ")}); hil test runs one-board suites — submit it with hil run`);
  const artifacts: Record<string, string> = {};
  for (const [name, path] of Object.entries(opts.artifacts)) {
    if (!(name in suite.artifacts)) throw new LabError("USAGE", `suite ${suite.name} takes no artifact "${name}" (it takes: ${Object.keys(suite.artifacts).join(", ") || "none"})`);
    if (!existsSync(path)) throw new LabError("USAGE", `artifact ${name}=${path}: no such file`);
    artifacts[name] = resolve(path);
  }
  for (const [name, spec] of Object.entries(suite.artifacts)) {
    if (spec.required && !(name in artifacts)) throw new LabError("USAGE", `suite ${suite.name} needs --artifact ${name}=FILE`);
  }

  const boardId = opts.boardId ?? boardIdFor(opts.port);
  const ctl = `${opts.port}.ctl`;
  const control = !opts.port.startsWith("rfc2217://") && existsSync(ctl) ? new ControlSocketReset(ctl) : undefined;
  if (control) opts.onNotice?.(`resetting the board through its control socket ${ctl} (a PTY has no DTR/RTS)`);
  const link = createLink(opts.port, { baudRate: profile.serial.baud });
  let target;
  try {
    target = await createEsp32Target({
      boardId,
      profile,
      link,
      ...(control ? { control } : {}),
      ...(opts.expectedMac !== undefined ? { expectedMac: opts.expectedMac } : {}),
      ...(opts.log ? { logger: opts.log } : {}),
    });
  } catch (err) {
    throw err instanceof LabError ? err : new LabError("LINK_OPEN_FAILED", `cannot open ${opts.port}: ${(err as Error).message}`, { cause: err });
  }
  try {
    const role = roles[0]!;
    const result = await runSuite({
      suite,
      targets: { [role]: target },
      artifacts,
      ...(opts.signal ? { signal: opts.signal } : {}),
      onLog: (l) => opts.onLine?.(l.text),
      onStep: (s) => opts.onStep?.(`${s.outcome.toUpperCase().padEnd(5)} ${s.index + 1}. ${s.name}${s.message && s.outcome !== "pass" ? ` — ${s.message.split("\n")[0]}` : ""}`),
    });
    const files = await writeResults(opts.outDir, result, { suite: suite.name, boards: { [role]: boardId }, profile: profile.id });
    if (opts.junitPath) {
      const { copyFile } = await import("node:fs/promises");
      await copyFile(files.junit, opts.junitPath);
    }
    return { result, files, suite, profile };
  } finally {
    await target.close().catch(() => undefined);
  }
}
