import { rmSync, statSync } from "node:fs";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseDuration, type RunRequest, UsageError } from "@hil/contracts";
import { packIdfBuild, unpackTar } from "@hil/lab-agent";
import type { Command } from "commander";
import { connect, exitCodeForRun, logLineText, runStatusLine, watchRun, type HilClient } from "../client/index.js";
import { TOKEN_FILE_FLAG, TOKEN_FILE_HELP } from "../client/connect.js";
import { EXIT } from "../exit-codes.js";

interface RunOptions {
  suite: string;
  profile?: string;
  board?: string;
  label: string[];
  role: string[];
  artifact: string[];
  priority?: string;
  timeout?: string;
  queueTimeout?: string;
  maxAttempts?: string;
  commit?: string;
  wait?: boolean;
  follow?: boolean;
  junit?: string;
  url?: string;
  tokenFile?: string;
}

const collect = (value: string, previous: string[]) => [...previous, value];

export function register(program: Command): void {
  program
    .command("run")
    .description("Submit a test run to the lab; with --wait, wait for it and exit 0 pass / 1 test failure / 2 lab failure / 3 timed out or cancelled")
    .requiredOption("--suite <name>", "test suite to run")
    .option("--profile <name>", "run on any board of this profile")
    .option("--board <id>", "run on this board")
    .option("--label <k=v>", "board label to require (repeatable)", collect, [])
    .option("--role <role=PROFILE>", "for a multi-board suite: the profile (or board:ID) of one role, e.g. phone=android-virtual (repeatable; roles not given keep the suite's)", collect, [])
    .option("--artifact <name=FILE>", "file for the suite's artifact NAME (repeatable)", collect, [])
    .option("--priority <n>", "0..100, higher first (default 50)")
    .option("--timeout <duration>", "whole-run timeout, e.g. 10m")
    .option("--queue-timeout <duration>", "how long the run may wait in the queue before it ends timed-out, e.g. 2h (default: the lab's, 24h)")
    .option("--max-attempts <n>", "attempts when the lab fails (infrastructure errors are retried on another board), 1..10", "3")
    .option("--commit <sha>", "the commit under test, kept with the run (GET /api/v1/runs?commit=PREFIX finds it)")
    .option("--wait", "wait for the run to finish")
    .option("--follow", "stream the board's log while the run runs (implies --wait)")
    .option("--junit <file>", "write the run's JUnit XML here (implies --wait)")
    .option("--url <url>", "lab URL (default: $HIL_URL or .hil/lab.env)")
    .option(TOKEN_FILE_FLAG, TOKEN_FILE_HELP)
    .action(async (opts: RunOptions) => {
      if (!opts.profile && !opts.board && opts.role.length === 0) throw new UsageError("say where to run: --profile P, --board ID, or --role ROLE=PROFILE for each role");
      const request = buildRequest(opts);
      const client = connect(opts);
      const artifacts: RunRequest["artifacts"] = {};
      for (const spec of opts.artifact) {
        const eq = spec.indexOf("=");
        if (eq <= 0) throw new UsageError(`--artifact takes name=FILE (got "${spec}")`);
        const name = spec.slice(0, eq);
        let file = resolve(spec.slice(eq + 1));
        let filename = file.split("/").pop() ?? name;
        // an ESP-IDF build directory travels as one tar: flasher_args.json and the files it names
        if (isDirectory(file)) {
          const packed = await packBuild(file);
          process.stderr.write(`artifact ${name}: ESP-IDF build ${file} packed (${packed.files} files)\n`);
          file = packed.path;
          filename = `${filename}.tar`;
        }
        const up = await client.uploadArtifact(file);
        process.stderr.write(`artifact ${name}: ${up.sha256.slice(0, 12)} (${up.size} bytes${up.uploaded ? "" : ", already on the server"})\n`);
        artifacts[name] = { sha256: up.sha256, size: up.size, filename };
      }
      const run = await client.submitRun({ ...request, artifacts });
      process.stdout.write(`run ${run.id} submitted: ${client.runUrl(run.id)}\n`);
      const wait = opts.wait || opts.follow || opts.junit !== undefined;
      if (!wait) return;
      process.exitCode = await waitForRun(client, run.id, opts);
    });
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

async function packBuild(dir: string): Promise<{ path: string; files: number }> {
  let bytes: Uint8Array;
  try {
    bytes = await packIdfBuild(dir);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const tmp = await mkdtemp(join(tmpdir(), "hil-build-"));
  const path = join(tmp, "build.tar");
  await writeFile(path, bytes);
  process.once("exit", () => rmSync(tmp, { recursive: true, force: true }));
  return { path, files: unpackTar(bytes).size };
}

function buildRequest(opts: RunOptions): Omit<RunRequest, "artifacts"> {
  const labels: Record<string, string> = {};
  for (const l of opts.label) {
    const eq = l.indexOf("=");
    if (eq <= 0) throw new UsageError(`--label takes k=v (got "${l}")`);
    labels[l.slice(0, eq)] = l.slice(eq + 1);
  }
  let priority = 50;
  if (opts.priority !== undefined) {
    priority = Number(opts.priority);
    if (!Number.isInteger(priority) || priority < 0 || priority > 100) throw new UsageError("--priority takes a whole number 0..100");
  }
  const maxAttempts = Number(opts.maxAttempts ?? "3");
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1 || maxAttempts > 10) throw new UsageError("--max-attempts takes a whole number 1..10");
  const request: Omit<RunRequest, "artifacts"> = { suite: opts.suite, priority, maxAttempts };
  if (opts.profile) request.profile = opts.profile;
  if (opts.board) request.board = opts.board;
  if (Object.keys(labels).length > 0) request.labels = labels;
  for (const spec of opts.role) {
    const m = /^([^=\s]+)=(board:)?(\S+)$/.exec(spec);
    if (!m) throw new UsageError(`--role takes ROLE=PROFILE or ROLE=board:ID (got "${spec}")`);
    const [, role = "", isBoard, target = ""] = m;
    if (request.roles?.[role]) throw new UsageError(`--role ${role} is given twice`);
    request.roles = { ...request.roles, [role]: isBoard ? { board: target } : { profile: target } };
  }
  if (opts.timeout !== undefined) {
    const ms = parseDuration(opts.timeout);
    if (ms === undefined || ms < 1000) throw new UsageError(`--timeout takes a duration like 90s, 10m or 1h (got "${opts.timeout}")`);
    request.timeoutSec = Math.round(ms / 1000);
  }
  if (opts.queueTimeout !== undefined) {
    const ms = parseDuration(opts.queueTimeout);
    if (ms === undefined || ms < 1000) throw new UsageError(`--queue-timeout takes a duration like 90s, 2h or 1d (got "${opts.queueTimeout}")`);
    request.queueTimeoutSec = Math.round(ms / 1000);
  }
  if (opts.commit !== undefined) {
    if (opts.commit === "" || opts.commit.length > 128) throw new UsageError("--commit takes a commit id of at most 128 characters");
    request.ci = { commit: opts.commit };
  }
  return request;
}

/** Waits, streams, writes JUnit; Ctrl-C cancels the run on the server and exits 3. */
async function waitForRun(client: HilClient, runId: string, opts: RunOptions): Promise<number> {
  const interrupted = new AbortController();
  const onSigint = () => interrupted.abort(new Error("interrupted"));
  process.once("SIGINT", onSigint);
  process.once("SIGTERM", onSigint);
  try {
    const run = await watchRun(client, runId, {
      follow: opts.follow ?? false,
      signal: interrupted.signal,
      onUpdate: (r) => process.stderr.write(`run ${runId}: ${runStatusLine(r)}\n`),
      onLine: (l) => process.stdout.write(`${logLineText(l)}\n`),
    });
    if (opts.junit) await writeJunit(client, runId, opts.junit);
    const failed = run.cases.filter((c) => c.outcome === "fail" || c.outcome === "error");
    const summary = run.cases.length > 0 ? ` (${run.cases.length} cases, ${failed.length} failed)` : "";
    process.stdout.write(`run ${runId} ${run.state}${summary}\n`);
    // what failed, by name, with the first line of why: what a CI log reader looks for first
    for (const c of failed.slice(0, 20)) {
      const why = c.message?.split("\n").find((l) => l.trim() !== "")?.trim();
      process.stdout.write(`  ${c.outcome === "error" ? "error" : "FAIL"} ${c.group ? `${c.group}#` : ""}${c.name}${why ? `: ${why}` : ""}\n`);
    }
    if (failed.length > 20) process.stdout.write(`  … and ${failed.length - 20} more (see the JUnit)\n`);
    // A step with no cases of its own (a flash, an A/B update) that failed is named the same way.
    if (failed.length === 0) {
      for (const st of run.steps.filter((x) => x.outcome === "fail" || (x.outcome === "error" && !run.error))) {
        process.stdout.write(`  ${st.outcome === "error" ? "error" : "FAIL"} ${st.name}${st.message ? `: ${st.message.split("\n")[0]}` : ""}\n`);
      }
    }
    if (failed.length === 0 && run.error && run.state !== "passed") process.stdout.write(`  ${run.error.code}: ${run.error.message}\n`);
    return exitCodeForRun(run.state);
  } catch (err) {
    if (!interrupted.signal.aborted) throw err;
    process.stderr.write(`run ${runId}: interrupted, cancelling it\n`);
    await client.cancelRun(runId).catch((e: Error) => process.stderr.write(`could not cancel run ${runId}: ${e.message}\n`));
    return EXIT.TIMED_OUT_OR_CANCELLED;
  } finally {
    process.off("SIGINT", onSigint);
    process.off("SIGTERM", onSigint);
  }
}

async function writeJunit(client: HilClient, runId: string, file: string): Promise<void> {
  try {
    await writeFile(file, await client.junit(runId));
    process.stderr.write(`JUnit written to ${file}\n`);
  } catch (err) {
    process.stderr.write(`could not write JUnit for run ${runId}: ${(err as Error).message}\n`);
  }
}

