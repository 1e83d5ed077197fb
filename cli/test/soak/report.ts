// What the fault soak (soak.ts) found, and the table the note carries.
import type { LogLine } from "@hil/contracts";

export interface SoakReport {
  minutes: number;
  injected: Record<string, number>;
  /** Fault kinds that could not be injected here, with the reason. */
  skipped: Record<string, string>;
  accepted: number;
  finished: Record<string, number>;
  /** Accepted runs with no final state after the drain. */
  lost: string[];
  /** Runs whose test work finished more than once (two agents' job-finished with an outcome of the test). */
  executedTwice: string[];
  /** Runs whose final state is not one their firmware allows (an infra error after all retries is counted apart). */
  wrongOutcome: string[];
  /** Runs that ended `error` (retries used up by faults): allowed, but counted. */
  infraErrors: number;
  /** Board log lines a follower received; of them, missing from the stored logs, stored twice, stored out of order. */
  linesAcked: number;
  linesMissing: number;
  linesDuplicated: number;
  linesOutOfOrder: number;
  /** Lines missing, by run (the run's id → how many), to find the runs to read. */
  missingByRun: Record<string, number>;
  /** The first missing lines themselves. */
  missingSamples: LogLine[];
  /** Boards still leased after the drain. */
  leasedBoards: string[];
}

/** The report as the table the note carries. */
export function formatReport(r: SoakReport): string {
  const rows: [string, string][] = [
    ["minutes of faults", String(r.minutes)],
    ...Object.entries(r.injected).map(([k, n]) => [`fault: ${k}`, String(n)] as [string, string]),
    ...Object.entries(r.skipped).map(([k, why]) => [`fault: ${k}`, `skipped: ${why}`] as [string, string]),
    ["runs accepted", String(r.accepted)],
    ...Object.entries(r.finished).map(([k, n]) => [`runs ${k}`, String(n)] as [string, string]),
    ["runs lost (must be 0)", String(r.lost.length)],
    ["runs executed twice (must be 0)", String(r.executedTwice.length)],
    ["runs with a wrong outcome (must be 0)", String(r.wrongOutcome.length)],
    ["log lines acknowledged", String(r.linesAcked)],
    ["log lines stored", String(r.linesAcked - r.linesMissing)],
    ["log lines missing / doubled / out of order (must be 0)", `${r.linesMissing} / ${r.linesDuplicated} / ${r.linesOutOfOrder}`],
    ["boards left leased (must be 0)", String(r.leasedBoards.length)],
  ];
  const w = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(w)}  ${v}`).join("\n");
}

/** Whether the invariants held. */
export function soakPassed(r: SoakReport): boolean {
  return r.lost.length === 0 && r.executedTwice.length === 0 && r.wrongOutcome.length === 0 && r.linesMissing === 0 && r.linesDuplicated === 0 && r.linesOutOfOrder === 0 && r.leasedBoards.length === 0;
}
