import { toLabError, type CaseResult, type Step } from "@hil/contracts";
import { requireEsp32, type StepContext, type StepOutcome } from "../step-context.js";
import { selectCases } from "../unity/unity-protocol.js";
import { UnitySession } from "../unity/unity-session.js";

const DEFAULT_CASE_TIMEOUT_MS = 30_000;
const MENU_TIMEOUT_MS = 30_000;

/**
 * Runs Unity cases through the app's menu and turns each into a CaseResult. Test failures and
 * panics fail their case; a hung case is an `error` and the board is reset before the next one;
 * an infrastructure failure ends the step as an error, keeping the cases done so far.
 */
export async function runUnityStep(ctx: StepContext<Extract<Step, { type: "unity" }>>): Promise<StepOutcome> {
  const target = requireEsp32(ctx);
  const session = new UnitySession({
    target,
    signal: ctx.signal,
    caseTimeoutMs: ctx.step.caseTimeout ?? DEFAULT_CASE_TIMEOUT_MS,
    menuTimeoutMs: Math.min(MENU_TIMEOUT_MS, ctx.timeoutMs),
  });
  const menu = await session.openMenu();
  const { entries, missing } = selectCases(menu, ctx.step.cases);
  const cases: CaseResult[] = missing.map((m) => ({
    name: String(m),
    outcome: "error",
    message: `case ${JSON.stringify(m)} is not in the app's Unity menu (${menu.length} cases: ${menu.map((e) => e.name).join(", ")})`,
    durationMs: 0,
  }));
  for (let i = 0; i < entries.length; i++) {
    const entry = entries[i]!;
    try {
      const { result, needsRecovery } = await session.runCase(entry);
      cases.push(result);
      if (needsRecovery && i < entries.length - 1) await session.recover();
    } catch (err) {
      const e = toLabError(err);
      const started = cases.some((c) => c.name === entry.name);
      entries.slice(i).forEach((rest, k) => {
        if (k === 0 && started) return;
        const broken = k === 0;
        cases.push({
          name: rest.name,
          ...(rest.group !== undefined ? { group: rest.group } : {}),
          outcome: broken ? "error" : "skip",
          message: broken ? e.message : `not run: ${e.message}`,
          durationMs: 0,
        });
      });
      return { outcome: "error", errorCode: e.code, message: e.message, cases };
    }
  }
  if (menu.length === 0) return { outcome: "error", errorCode: "TEST_FAILED", message: "the Unity menu lists no test cases", cases };
  const failed = cases.filter((c) => c.outcome === "fail").length;
  const errored = cases.filter((c) => c.outcome === "error").length;
  const passed = cases.filter((c) => c.outcome === "pass").length;
  const summary = `${cases.length} cases: ${passed} passed, ${failed} failed, ${errored} errors`;
  if (errored > 0) return { outcome: "error", errorCode: missing.length > 0 ? "SUITE_INVALID" : "STEP_TIMEOUT", message: summary, cases };
  if (failed > 0) return { outcome: "fail", message: summary, cases };
  return { outcome: "pass", message: summary, cases };
}
