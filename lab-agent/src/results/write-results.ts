import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { toJUnitXml, type LogLine } from "@hil/contracts";
import type { SuiteResult } from "../runner/run-suite.js";

export interface ResultMeta {
  suite: string;
  runId?: string;
  /** role → board id */
  boards?: Record<string, string>;
  profile?: string;
}

export interface WrittenResults {
  junit: string;
  json: string;
  log: string;
}

/** One console line per LogLine: `seq wall-iso mono text` (a flushed prompt carries `[partial]` before the text). */
export function formatLogLine(l: LogLine): string {
  const flag = l.partial ? " [partial]" : "";
  return `${l.seq} ${new Date(l.wall).toISOString()} ${l.mono.toFixed(3)}${flag} ${l.text}`;
}

/**
 * Writes a run's results into `outDir`: `junit.xml` (CI), `result.json` (machines; no log inside)
 * and `console.log` (every line with its sequence number and both clocks, ANSI kept).
 */
export async function writeResults(outDir: string, result: SuiteResult, meta: ResultMeta): Promise<WrittenResults> {
  await mkdir(outDir, { recursive: true });
  const files: WrittenResults = { junit: join(outDir, "junit.xml"), json: join(outDir, "result.json"), log: join(outDir, "console.log") };
  const junit = toJUnitXml({
    name: meta.suite,
    runId: meta.runId,
    steps: result.steps,
    logLines: result.log,
    startedAt: result.startedAt,
  });
  const { log, ...rest } = result;
  const json = {
    suite: meta.suite,
    runId: meta.runId ?? null,
    profile: meta.profile ?? null,
    boards: meta.boards ?? {},
    ...rest,
    logLines: log.length,
    firstSeq: log[0]?.seq ?? null,
    lastSeq: log.at(-1)?.seq ?? null,
  };
  await Promise.all([
    writeFile(files.junit, junit),
    writeFile(files.json, `${JSON.stringify(json, null, 2)}\n`),
    writeFile(files.log, log.map((l) => `${formatLogLine(l)}\n`).join("")),
  ]);
  return files;
}
