import { LabError, UsageError } from "@hil/contracts";
import { runLocalTest, type SuiteResult } from "@hil/lab-agent";
import type { Command } from "commander";
import { EXIT, type ExitCode } from "../exit-codes.js";

interface TestCliOptions {
  port: string;
  profile: string;
  suite: string;
  artifact: string[];
  junit?: string;
  out: string;
  mac?: string;
  quiet?: boolean;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function parseArtifacts(specs: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const spec of specs) {
    const eq = spec.indexOf("=");
    if (eq <= 0 || eq === spec.length - 1) throw new UsageError(`--artifact "${spec}" must be name=FILE, e.g. --artifact app=build/app.bin`);
    out[spec.slice(0, eq)] = spec.slice(eq + 1);
  }
  return out;
}

/** 0 pass, 1 test failure, 2 infrastructure error, 3 timed out / cancelled. */
export function exitCodeFor(result: SuiteResult): ExitCode {
  if (result.outcome === "pass") return EXIT.OK;
  if (result.outcome === "cancelled" || result.timedOut) return EXIT.TIMED_OUT_OR_CANCELLED;
  if (result.outcome === "error") return EXIT.INFRA;
  return EXIT.TEST_FAILED;
}

export function register(program: Command): void {
  program
    .command("test")
    .description("Run a suite on one board attached here (serial port, PTY or rfc2217://), no scheduler; exit 0 pass, 1 test failure, 2 infrastructure error, 3 timed out or cancelled, 64 usage")
    .requiredOption("--port <path|url>", "the board's port: /dev/ttyUSB0, a virtual board's PTY, or rfc2217://host:port")
    .requiredOption("--profile <id|file>", "device profile id (e.g. esp32-devkitc) or a profile YAML file")
    .requiredOption("--suite <name|file>", "suite name (e.g. esp32-smoke) or a suite YAML file")
    .option("--artifact <name=FILE>", "an artifact the suite takes; repeat for several", collect, [])
    .option("--junit <file>", "also write the JUnit XML here")
    .option("--out <dir>", "results directory (junit.xml, result.json, console.log)", "hil-results")
    .option("--mac <aa:bb:cc:dd:ee:ff>", "refuse to flash unless the board reports this MAC")
    .option("--quiet", "do not echo the board's console")
    .action(async (opts: TestCliOptions) => {
      const artifacts = parseArtifacts(opts.artifact);
      if (opts.mac !== undefined && !/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/.test(opts.mac)) throw new UsageError(`--mac "${opts.mac}" must be a lowercase MAC like a0:b0:11:22:33:44`);
      const ac = new AbortController();
      const onSignal = () => ac.abort(new LabError("CANCELLED", "interrupted"));
      process.once("SIGINT", onSignal);
      process.once("SIGTERM", onSignal);
      try {
        const report = await runLocalTest({
          port: opts.port,
          profile: opts.profile,
          suite: opts.suite,
          artifacts,
          outDir: opts.out,
          ...(opts.junit !== undefined ? { junitPath: opts.junit } : {}),
          ...(opts.mac !== undefined ? { expectedMac: opts.mac } : {}),
          signal: ac.signal,
          ...(opts.quiet ? {} : { onLine: (text: string) => process.stdout.write(`  | ${text}\n`) }),
          onStep: (line) => process.stdout.write(`${line}\n`),
          onNotice: (msg) => process.stdout.write(`hil: ${msg}\n`),
        });
        const { result } = report;
        const count = (o: string) => result.cases.filter((c) => c.outcome === o).length;
        const cases = result.cases.length > 0 ? `; cases: ${count("pass")} passed, ${count("fail")} failed, ${count("error")} errors, ${count("skip")} skipped` : "";
        process.stdout.write(`${result.outcome.toUpperCase()} ${report.suite.name} in ${(result.durationMs / 1000).toFixed(1)} s${cases}\n`);
        for (const c of result.cases.filter((x) => x.outcome === "fail" || x.outcome === "error")) {
          process.stdout.write(`  ${c.outcome} ${c.name}: ${(c.message ?? "").split("\n").slice(0, 3).join(" | ")}\n`);
        }
        if (result.error) process.stderr.write(`hil: ${result.error.code}: ${result.error.message}\n`);
        process.stdout.write(`results in ${report.files.junit.replace(/junit\.xml$/, "")}\n`);
        process.exitCode = exitCodeFor(result);
      } catch (err) {
        if (err instanceof LabError && (err.code === "USAGE" || err.code === "PROFILE_INVALID" || err.code === "SUITE_INVALID")) throw new UsageError(err.message);
        if (err instanceof LabError) {
          process.stderr.write(`hil: ${err.code}: ${err.message}\n`);
          process.exitCode = err.infra ? EXIT.INFRA : EXIT.TEST_FAILED;
          return;
        }
        throw err;
      } finally {
        process.off("SIGINT", onSignal);
        process.off("SIGTERM", onSignal);
      }
    });
}
