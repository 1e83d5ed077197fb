import type { CaseResult, Run, StepResult } from "@hil/contracts";
import { api, endpoints, request, saveBlob } from "../api.js";
import { useApp, useLiveData, useNow } from "../app-context.js";
import { lineClass, LogList } from "../components/log-list.js";
import { Failed, Loading, StateBadge } from "../components/states.js";
import { duration, time } from "../format.js";
import { href } from "../router.js";
import { commitOf } from "./runs.js";

const TERMINAL = new Set(["passed", "failed", "error", "cancelled", "timed-out"]);

function StepTimeline({ runId, steps }: { runId: string; steps: StepResult[] }) {
  if (steps.length === 0) return <p class="muted">No step has finished yet.</p>;
  return (
    <ol class="timeline" data-testid="steps">
      {steps.map((s) => {
        const limit = s.timeoutMs ?? s.durationMs;
        const pct = limit > 0 ? Math.min(100, (s.durationMs / limit) * 100) : 100;
        return (
          <li key={s.index} class={`step outcome-${s.outcome}`}>
            <span class="step-name">
              {s.index + 1}. {s.name}
              {s.role && s.role !== "dut" ? ` (${s.role})` : ""}
            </span>
            <span class="bar" title={`${duration(s.durationMs)} of ${s.timeoutMs !== undefined ? duration(s.timeoutMs) : "no limit"}`}>
              <span class="fill" style={{ width: `${pct}%` }} />
            </span>
            <span class="small">
              {duration(s.durationMs)}
              {s.timeoutMs !== undefined ? ` / ${duration(s.timeoutMs)}` : ""} · {s.outcome}
              {s.errorCode ? ` (${s.errorCode})` : ""}
            </span>
            {s.message && s.outcome !== "pass" && <span class="step-message">{s.message}</span>}
            {s.firstSeq !== undefined && (
              <a class="small" href={href(["runs", runId], { seq: String(s.firstSeq) })}>
                log
              </a>
            )}
          </li>
        );
      })}
    </ol>
  );
}

/** A case's message: its first line, the rest (a panic's register dump and backtrace) folded away. */
function CaseMessage({ text }: { text: string | undefined }) {
  if (!text) return null;
  const [head, ...rest] = text.split("\n");
  if (rest.length === 0) return <>{head}</>;
  return (
    <details>
      <summary>{head}</summary>
      <pre>{rest.join("\n")}</pre>
    </details>
  );
}

function CaseTable({ runId, cases }: { runId: string; cases: CaseResult[] }) {
  if (cases.length === 0) return null;
  const failed = cases.filter((c) => c.outcome === "fail" || c.outcome === "error").length;
  return (
    <>
      <h2>
        Cases <span class="muted small">{cases.length} · {failed} failed</span>
      </h2>
      <div class="table-wrap">
        <table class="cases" data-testid="cases">
          <thead>
            <tr>
              <th scope="col">Case</th>
              <th scope="col">Outcome</th>
              <th scope="col">Took</th>
              <th scope="col">Message</th>
              <th scope="col">Log</th>
            </tr>
          </thead>
          <tbody>
            {cases.map((c, i) => (
              <tr key={i} class={`outcome-${c.outcome}${c.message && lineClass(c.message) === "panic" ? " panic" : ""}`}>
                <td>
                  {c.group ? <span class="muted">{c.group} · </span> : null}
                  {c.name}
                  {c.file ? (
                    <span class="muted small">
                      {" "}
                      {c.file}:{c.line}
                    </span>
                  ) : null}
                </td>
                <td>
                  <StateBadge state={c.outcome} />
                </td>
                <td>{duration(c.durationMs)}</td>
                <td class="message">
                  <CaseMessage text={c.message} />
                </td>
                <td>{c.firstSeq !== undefined ? <a href={href(["runs", runId], { seq: String(c.firstSeq) })}>line {c.firstSeq}</a> : ""}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </>
  );
}

async function download(path: string, name: string, notify: (t: string, k?: "error") => void) {
  try {
    saveBlob(await (await request("GET", path)).blob(), name);
  } catch (err) {
    notify(`download failed: ${err instanceof Error ? err.message : String(err)}`, "error");
  }
}

export function RunPage({ id, seq }: { id: string; seq: string | null }) {
  const { me, can, notify } = useApp();
  const now = useNow();
  const { data: run, error, loading, reload } = useLiveData(() => endpoints.run(id), (kind, changed) => kind === "run" && changed === id, [id]);
  if (!run && loading) return <Loading what={`run ${id}`} />;
  if (!run) return <Failed error={error ?? `no run ${id}`} retry={reload} />;
  const r = run as Run & { queue?: { position: number; pending: number } };
  const done = TERMINAL.has(r.state);
  const mayCancel = !done && can("submit") && (r.submitter === me.name || can("admin"));
  const ci = r.request.ci;
  const focusSeq = seq !== null && /^\d+$/.test(seq) ? Number(seq) : undefined;
  return (
    <section class="run-page">
      <div class="page-head">
        <h1>
          <a href={href(["runs"])}>Runs</a> / {r.request.suite} <span class="muted small">{r.id}</span>
        </h1>
        <StateBadge state={r.state} />
        {mayCancel && (
          <button
            type="button"
            onClick={() =>
              api("POST", `/api/v1/runs/${encodeURIComponent(id)}/cancel`).then(
                () => reload(),
                (err: unknown) => notify(`cancel: ${err instanceof Error ? err.message : String(err)}`, "error"),
              )
            }
          >
            Cancel run
          </button>
        )}
        <button type="button" onClick={() => download(`/api/v1/runs/${encodeURIComponent(id)}/junit`, `${id}.junit.xml`, notify)}>
          JUnit
        </button>
        <button type="button" onClick={() => download(`/api/v1/runs/${encodeURIComponent(id)}/log`, `${id}.log`, notify)}>
          Log
        </button>
      </div>
      {r.error && (
        <p class="error" role="status">
          {r.error.code}: {r.error.message}
        </p>
      )}
      {r.state === "queued" && (
        <p class="warn" role="status">
          Queued{r.queue ? ` (${r.queue.position} of ${r.queue.pending})` : ""}
          {r.waitingFor ? `: waiting for ${r.waitingFor}` : ""}
        </p>
      )}
      <dl class="facts">
        <dt>Submitter</dt>
        <dd>{r.submitter}</dd>
        <dt>Boards</dt>
        <dd>
          {Object.entries(r.boards).map(([role, b]) => (
            <span key={role}>
              {role}: <a href={href(["boards", b])}>{b}</a>{" "}
            </span>
          ))}
        </dd>
        {commitOf(r) && (
          <>
            <dt>Commit</dt>
            <dd>
              <code>{commitOf(r)}</code>
              {ci?.branch ? ` on ${ci.branch}` : ""}
              {ci?.repository ? ` · ${ci.repository}` : ""}
            </dd>
          </>
        )}
        {ci?.pipelineUrl && (
          <>
            <dt>Pipeline</dt>
            <dd>
              <a href={ci.pipelineUrl} rel="noopener noreferrer" target="_blank">
                {ci.job ?? ci.pipelineUrl}
              </a>
            </dd>
          </>
        )}
        <dt>Queued</dt>
        <dd>{time(r.createdAt)}</dd>
        {r.startedAt && (
          <>
            <dt>Took</dt>
            <dd>{duration((r.endedAt ?? now) - r.startedAt)}</dd>
          </>
        )}
        <dt>Attempts</dt>
        <dd>
          {r.attempts.length === 0
            ? "none yet"
            : r.attempts.map((a) => `#${a.attempt} ${a.outcome ?? "…"}${a.error ? ` (${a.error.code})` : ""}`).join(", ")}
        </dd>
      </dl>
      <h2>Steps</h2>
      <StepTimeline runId={id} steps={r.steps} />
      <CaseTable runId={id} cases={r.cases} />
      <h2>Log</h2>
      <LogList runId={id} focusSeq={focusSeq} live={!done} />
    </section>
  );
}
