import type { Command } from "commander";
import { checkProfiles, formatProblem, loadProfiles, yamlFilesIn } from "@hil/device-profiles";
import { checkSuiteFiles, loadSuites, SUITES_DIR } from "@hil/test-suites";
import { EXIT } from "../exit-codes.js";

export function register(program: Command): void {
  const suites = program.command("suites").description("test suites: boards, artifacts and steps described as YAML");

  suites
    .command("check")
    .description("validate suite files; one `FILE:LINE: field: problem` line each, exit 1 if any (no files = the shipped suites)")
    .argument("[files...]", "suite YAML files")
    .option("--profiles <dir>", "device profiles the suites' roles may name (default: the shipped profiles)")
    .action(async (files: string[], opts: { profiles?: string }) => {
      const paths = files.length > 0 ? files : await yamlFilesIn(SUITES_DIR);
      // Broken profiles are reported too: a suite naming one would otherwise look like a typo.
      const profileCheck = opts.profiles === undefined ? undefined : await checkProfiles(await yamlFilesIn(opts.profiles));
      const profiles = profileCheck?.profiles ?? (await loadProfiles());
      const problems = [...(profileCheck?.problems ?? []), ...(await checkSuiteFiles(paths, { profiles }))];
      for (const p of problems) process.stdout.write(`${formatProblem(p)}\n`);
      if (problems.length > 0) {
        process.stderr.write(`${problems.length} problem(s) in ${new Set(problems.map((p) => p.file)).size} file(s)\n`);
        process.exitCode = EXIT.TEST_FAILED;
      } else {
        process.stderr.write(`${paths.length} suite(s) valid\n`);
      }
    });

  suites
    .command("list")
    .description("list the shipped test suites")
    .option("--json", "print the suites as JSON")
    .action(async (opts: { json?: boolean }) => {
      const all = [...(await loadSuites()).values()];
      if (opts.json) return void process.stdout.write(`${JSON.stringify(all, null, 2)}\n`);
      for (const s of all) {
        const roles = Object.entries(s.roles)
          .map(([role, r]) => `${role}=${r.profile}`)
          .join(" ");
        process.stdout.write(`${s.name.padEnd(30)} ${String(s.steps.length).padStart(2)} steps  ${roles}\n`);
      }
    });
}
