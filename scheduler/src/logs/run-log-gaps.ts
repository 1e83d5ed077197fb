import type { LogLine, Run } from "@hil/contracts";

/**
 * A run's stored log with every hole marked. Board lines are numbered without gaps (`seq`), and each step
 * records the board's next number when it began (`firstSeq`), so lines missing at the start (the stream was
 * capped: its oldest entries trimmed) or in between show as a jump. A marker line (stream `agent`, the first
 * missing `seq`) says how many and why, so a reader of log.txt never takes a cut log for the whole one.
 */
export function markLogGaps(run: Run, lines: readonly LogLine[]): LogLine[] {
  const firstByBoard = new Map<string, number>();
  for (const step of run.steps) {
    const board = step.role !== undefined ? (run.boards[step.role] ?? run.attempts[run.attempts.length - 1]?.boards[step.role]) : undefined;
    if (board === undefined || step.firstSeq === undefined) continue;
    firstByBoard.set(board, Math.min(firstByBoard.get(board) ?? Number.POSITIVE_INFINITY, step.firstSeq));
  }
  const expected = new Map(firstByBoard);
  const out: LogLine[] = [];
  for (const line of lines) {
    const want = expected.get(line.board);
    if (want !== undefined && line.seq > want) {
      const n = line.seq - want;
      out.push({
        board: line.board,
        run: line.run,
        seq: want,
        mono: line.mono,
        wall: line.wall,
        stream: "agent",
        text: `[hil] ${n} log lines of ${line.board} (seq ${want}–${line.seq - 1}) are missing here: the run's log stream was capped or lost them before they were stored`,
      });
    }
    out.push(line);
    expected.set(line.board, Math.max(want ?? 0, line.seq + 1));
  }
  return out;
}
