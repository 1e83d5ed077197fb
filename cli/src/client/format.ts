import type { Board, Booking, LogLine } from "@hil/contracts";
import type { RunView } from "./hil-client.js";

/** Plain aligned columns (no colours: the output goes to CI logs as often as to terminals). */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join("  ").trimEnd();
  return [line(header), ...rows.map(line)].join("\n") + "\n";
}

export function boardsTable(boards: Board[]): string {
  return table(
    ["BOARD", "PROFILE", "STATE", "AGENT", "HEALTH", "RUN", "HOLDER"],
    boards.map((b) => [b.id, b.profile, b.state, b.agent, String(b.health), b.currentRun ?? "", b.holder ?? ""]),
  );
}

export function runsTable(runs: RunView[]): string {
  return table(
    ["RUN", "SUITE", "STATE", "SUBMITTER", "BOARDS", "ATTEMPTS", "CREATED"],
    runs.map((r) => [
      r.id,
      // the lab's own check of a board, not someone's test run (docs/scheduler.md, "Board health")
      r.purpose === "health-check" ? `${r.request.suite} (health check)` : r.request.suite,
      r.state,
      r.submitter,
      Object.values(r.boards).join(","),
      String(r.attempts.length),
      new Date(r.createdAt).toISOString(),
    ]),
  );
}

export function bookingLine(b: Booking): string {
  return `booking ${b.id}: board ${b.board} held by ${b.holder} from ${new Date(b.start).toISOString()} to ${new Date(b.end).toISOString()} (${b.state})`;
}

/** One log line as `seq time text`, the run's console as a person reads it. */
export function logLineText(l: LogLine): string {
  return `${String(l.seq).padStart(6)} ${new Date(l.wall).toISOString().slice(11, 23)} ${l.text}`;
}

/** "queued (position 3 of 7, waiting for: no idle esp32-virtual board)" */
export function runStatusLine(run: RunView): string {
  if (run.state === "queued") {
    const q = run.queue;
    const parts: string[] = [];
    if (q?.position) parts.push(`position ${q.position}${q.pending ? ` of ${q.pending}` : ""}`);
    if (q?.etaMs !== undefined) parts.push(`ETA ~${Math.ceil(q.etaMs / 1000)} s`);
    const why = q?.waitingFor ?? run.waitingFor;
    if (why) parts.push(`waiting for: ${why}`);
    return `queued${parts.length ? ` (${parts.join(", ")})` : ""}`;
  }
  const boards = Object.values(run.boards);
  const attempt = run.attempts.length > 1 ? ` attempt ${run.attempts.length}` : "";
  if (run.state === "leased" || run.state === "running") return `${run.state} on ${boards.join(", ")}${attempt}`;
  const err = run.error ? `: ${run.error.code} ${run.error.message}` : "";
  return `${run.state}${attempt}${err}`;
}

/** `hil runs show`: the run, its attempts, its steps and its test cases. */
export function runShowText(run: RunView): string {
  const at = (ms: number | undefined) => (ms === undefined ? "-" : new Date(ms).toISOString());
  const out = [
    `run ${run.id}: ${runStatusLine(run)}`,
    `  suite ${run.request.suite}, submitted by ${run.submitter} at ${at(run.createdAt)}${run.endedAt ? `, ended ${at(run.endedAt)}` : ""}`,
  ];
  if (run.attempts.length > 0) {
    out.push("attempts:");
    for (const a of run.attempts) {
      const boards = Object.entries(a.boards).map(([role, b]) => `${role}=${b}`).join(" ");
      out.push(`  #${a.attempt} ${boards} on ${a.agent ?? "?"}: ${a.outcome ?? "running"}${a.error ? ` (${a.error.code}: ${a.error.message})` : ""}`);
    }
  }
  if (run.steps.length > 0) {
    out.push("steps:");
    for (const s of run.steps) out.push(`  ${s.outcome.padEnd(6)} ${s.name} (${s.type}, ${(s.durationMs / 1000).toFixed(1)} s)${s.message ? `: ${s.message}` : ""}`);
  }
  if (run.cases.length > 0) {
    out.push("cases:");
    for (const c of run.cases) out.push(`  ${c.outcome.padEnd(6)} ${c.name}`);
  }
  return `${out.join("\n")}\n`;
}
