import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import type { Command } from "commander";
import { apkToolMissing } from "@hil/lab-agent";
import { UsageError } from "@hil/contracts";
import { EXAMPLE_SUITES, findExampleSuite, type ExampleSuite } from "../examples/example-suites.js";

const NAMES = EXAMPLE_SUITES.map((s) => s.suite).join(", ");

/** Quotes an argument for a POSIX shell only when it needs it, so the printed line stays readable. */
function shellWord(arg: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** The `hil run` arguments (after `hil`) that run `suite` with the artifacts written into `dir`. */
export function exampleRunArgs(example: ExampleSuite, dir: string): string[] {
  return ["run", "--suite", example.suite, ...example.where, ...example.artifacts.flatMap((a) => ["--artifact", `${a.name}=${join(dir, a.file)}`]), "--wait"];
}

export function register(program: Command): void {
  const examples = program.command("examples").description("the shipped example suites on the lab's virtual boards: artifacts to try them with");

  examples
    .command("list")
    .description("the example suites `hil examples artifacts` can make artifacts for, and what each artifact is")
    .option("--json", "print them as JSON")
    .action((opts: { json?: boolean }) => {
      if (opts.json) {
        const list = EXAMPLE_SUITES.map((s) => ({ suite: s.suite, where: s.where, artifacts: s.artifacts.map((a) => ({ name: a.name, file: a.file, about: a.about })) }));
        return void process.stdout.write(`${JSON.stringify(list, null, 2)}\n`);
      }
      for (const s of EXAMPLE_SUITES) {
        process.stdout.write(`${s.suite}  (${s.where.join(" ")})\n`);
        for (const a of s.artifacts) process.stdout.write(`  ${a.name.padEnd(18)} ${a.about}\n`);
      }
    });

  examples
    .command("artifacts")
    .description("write every artifact an example suite needs, built for virtual boards, and print the `hil run` line that runs it (your own builds go to `hil run --artifact NAME=FILE` instead)")
    .argument("<suite>", `one of ${NAMES}`)
    .requiredOption("-o, --output <dir>", "folder to write the artifacts into (created if missing)")
    .option("--json", "print the files and the `hil run` arguments as JSON")
    .action(async (name: string, opts: { output: string; json?: boolean }) => {
      const example = findExampleSuite(name);
      if (!example) throw new UsageError(`no example artifacts for suite "${name}"; use one of ${NAMES}`);
      if (example.artifacts.some((a) => a.apk) && apkToolMissing()) {
        throw new UsageError(`${example.suite} needs APKs, which are built with Debian's aapt, and it is not installed: run "sudo apt-get install aapt" (npm run lab installs it when it can), or give hil run your own APKs with --artifact NAME=FILE`);
      }
      try {
        await mkdir(opts.output, { recursive: true });
      } catch (err) {
        throw new UsageError(`--output ${opts.output}: cannot create the folder (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, { cause: err });
      }
      const files: Record<string, string> = {};
      for (const a of example.artifacts) {
        const path = join(opts.output, a.file);
        await a.write(path);
        files[a.name] = path;
        if (!opts.json) process.stdout.write(`wrote ${path}  ${a.name}: ${a.about}\n`);
      }
      const args = exampleRunArgs(example, opts.output);
      if (opts.json) return void process.stdout.write(`${JSON.stringify({ suite: example.suite, files, run: args }, null, 2)}\n`);
      process.stdout.write(`\nrun it (npm run lab's virtual boards):\n  npx hil ${args.map(shellWord).join(" ")}\n`);
    });
}
