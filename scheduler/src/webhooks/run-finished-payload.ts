import type { Run } from "@hil/contracts";

/** The body of a `run.finished` delivery (docs/webhooks.md); times are Unix milliseconds, like the API's. */
export interface RunFinishedPayload {
  event: "run.finished";
  run: {
    id: string;
    state: Run["state"];
    /** The last attempt's outcome (pass, fail, error, cancelled); absent when the run never started. */
    outcome?: "pass" | "fail" | "error" | "cancelled";
    suite: string;
    profile?: string;
    submitter: string;
    /** role → board id of the last attempt */
    boards: Record<string, string>;
    attempts: number;
    createdAt: number;
    startedAt?: number;
    endedAt?: number;
    error?: { code: string; message: string };
    ci?: NonNullable<Run["request"]["ci"]>;
  };
  urls: { run: string; junit: string; api: string };
}

export function runFinishedPayload(run: Run, publicUrl: string): RunFinishedPayload {
  const last = run.attempts[run.attempts.length - 1];
  const boards = Object.keys(run.boards).length > 0 ? run.boards : (last?.boards ?? {});
  const id = encodeURIComponent(run.id);
  return {
    event: "run.finished",
    run: {
      id: run.id,
      state: run.state,
      ...(last?.outcome ? { outcome: last.outcome } : {}),
      suite: run.request.suite,
      ...(run.request.profile ? { profile: run.request.profile } : {}),
      submitter: run.submitter,
      boards,
      attempts: run.attempts.length,
      createdAt: run.createdAt,
      ...(run.startedAt !== undefined ? { startedAt: run.startedAt } : {}),
      ...(run.endedAt !== undefined ? { endedAt: run.endedAt } : {}),
      ...(run.error ? { error: run.error } : {}),
      ...(run.request.ci ? { ci: run.request.ci } : {}),
    },
    urls: { run: `${publicUrl}/#/runs/${id}`, junit: `${publicUrl}/api/v1/runs/${id}/junit`, api: `${publicUrl}/api/v1/runs/${id}` },
  };
}
