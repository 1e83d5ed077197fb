import type { Command } from "commander";
import { checkProfileFiles, formatProblem, loadProfiles, PROFILES_DIR, yamlFilesIn } from "@hil/device-profiles";
import { EXIT } from "../exit-codes.js";

export function register(program: Command): void {
  const profiles = program.command("profiles").description("device profiles: board types described as YAML");

  profiles
    .command("check")
    .description("validate profile files; one `FILE:LINE: field: problem` line each, exit 1 if any (no files = the shipped profiles)")
    .argument("[files...]", "profile YAML files")
    .action(async (files: string[]) => {
      const paths = files.length > 0 ? files : await yamlFilesIn(PROFILES_DIR);
      const problems = await checkProfileFiles(paths);
      for (const p of problems) process.stdout.write(`${formatProblem(p)}\n`);
      if (problems.length > 0) {
        process.stderr.write(`${problems.length} problem(s) in ${new Set(problems.map((p) => p.file)).size} of ${paths.length} file(s)\n`);
        process.exitCode = EXIT.TEST_FAILED;
      } else {
        process.stderr.write(`${paths.length} profile(s) valid\n`);
      }
    });

  profiles
    .command("list")
    .description("list the shipped device profiles")
    .option("--json", "print the profiles as JSON, defaults filled in")
    .action(async (opts: { json?: boolean }) => {
      const all = await loadProfiles();
      if (opts.json) return void process.stdout.write(`${JSON.stringify([...all.values()], null, 2)}\n`);
      for (const p of all.values()) {
        const usb = p.usb.map((u) => `${u.vendorId}:${u.productId}`).join(",") || "-";
        const what = p.kind === "esp32" ? (p.chip ?? "esp32") : "android";
        process.stdout.write(`${p.id.padEnd(22)} ${what.padEnd(8)} ${(p.virtual ? "virtual" : "usb").padEnd(8)} ${usb.padEnd(30)} ${p.name}\n`);
      }
    });
}
