import { setTimeout as delay } from "node:timers/promises";
import { z } from "zod";
import { benchAir } from "../air.js";

/**
 * A test that provisions a device over the bench's air (a BLE provisioning app's test): it scans for a
 * service named `servicePrefix`…, sends the credentials with the proof of possession, and passes only
 * if the device takes them.
 */
export const ProvisionActionSchema = z.object({
  servicePrefix: z.string().min(1).default("PROV_"),
  ssid: z.string().min(1),
  password: z.string().default(""),
  pop: z.string().default("abcd1234"),
  /** How long the test scans for a device. */
  scanMs: z.number().int().min(0).max(120_000).default(10_000),
});

/**
 * A companion app's test that talks to a device on the bench's air (docs/ota.md, "Coupled updates"): it
 * scans for `servicePrefix`…, says which protocol versions the app speaks, and passes only if the device's
 * firmware speaks one of them.
 */
export const TalkActionSchema = z
  .object({
    servicePrefix: z.string().min(1).default("DEV_"),
    minProtocol: z.number().int().min(0),
    maxProtocol: z.number().int().min(0),
    scanMs: z.number().int().min(0).max(120_000).default(10_000),
  })
  .refine((t) => t.minProtocol <= t.maxProtocol, { path: ["maxProtocol"], message: "maxProtocol must be at least minProtocol" });

export const ScriptedTestSchema = z.object({
  class: z.string().min(1),
  name: z.string().min(1),
  result: z.enum(["pass", "fail", "ignored", "assumption-failure", "crash"]).default("pass"),
  /** The failure trace for `fail`, `assumption-failure` and `crash`. */
  stack: z.string().optional(),
  durationMs: z.number().int().min(0).max(600_000).default(5),
  /** Lines the test logs to logcat (tag = the test class' simple name) while it runs. */
  log: z.array(z.string()).default([]),
  /** What the test does on the air; its outcome then decides the test's (a `pass` test fails if the device refuses). */
  provision: ProvisionActionSchema.optional(),
  /** Connects to a device's companion service; its answer decides the test's outcome as for `provision`. */
  talk: TalkActionSchema.optional(),
});
export type ScriptedTest = z.infer<typeof ScriptedTestSchema>;

/** What `am instrument` reports for one instrumentation package. */
export const InstrumentationScriptSchema = z.object({
  tests: z.array(ScriptedTestSchema),
});
export type InstrumentationScript = z.infer<typeof InstrumentationScriptSchema>;

/** Scripts per instrumentation (test) package name, set by a test or a control command. */
export class InstrumentationScripts {
  private readonly scripts = new Map<string, InstrumentationScript>();

  set(testPackage: string, script: unknown): void {
    this.scripts.set(testPackage, InstrumentationScriptSchema.parse(script));
  }

  /** Set by a control command first, then what the test APK carried (`embedded`), else one passing test. */
  get(testPackage: string, targetPackage: string, embedded?: unknown): InstrumentationScript {
    const carried = embedded === undefined ? undefined : InstrumentationScriptSchema.safeParse(embedded);
    return this.scripts.get(testPackage) ?? (carried?.success ? carried.data : undefined) ?? { tests: [{ class: `${targetPackage}.ExampleInstrumentedTest`, name: "useAppContext", result: "pass", durationMs: 5, log: [] }] };
  }
}

export interface InstrumentationRun {
  component: string;
  raw: boolean;
  /** `-e class a.B,c.D#m` narrows the run. */
  classFilter: string[] | null;
  write(text: string): Promise<void>;
  log(tag: string, message: string, priority: number, buffer?: "main" | "crash"): void;
}

type Bundle = Record<string, string | number>;

function renderBundle(prefix: "INSTRUMENTATION_STATUS" | "INSTRUMENTATION_RESULT", bundle: Bundle): string {
  return Object.keys(bundle)
    .sort()
    .map((k) => `${prefix}: ${k}=${String(bundle[k])}\n`)
    .join("");
}

function selected(t: ScriptedTest, filter: string[] | null): boolean {
  if (!filter) return true;
  return filter.some((f) => f === t.class || f === `${t.class}#${t.name}`);
}

/**
 * Prints AndroidJUnitRunner's status bundles the way `am instrument -r -w` relays them
 * (Instrument.java TextStatusReporter; androidx InstrumentationResultPrinter; PROTOCOLS.md §E.1).
 * Returns am's exit status.
 */
export async function runInstrumentation(script: InstrumentationScript, run: InstrumentationRun): Promise<number> {
  const tests = script.tests.filter((t) => selected(t, run.classFilter));
  const started = Date.now();
  const failures: { display: string; stack: string }[] = [];
  let lastClass = "";
  let current = 0;
  const status = async (code: number, bundle: Bundle): Promise<void> => {
    if (run.raw) await run.write(`${renderBundle("INSTRUMENTATION_STATUS", bundle)}INSTRUMENTATION_STATUS_CODE: ${code}\n`);
    else if (typeof bundle.stream === "string") await run.write(bundle.stream);
  };
  for (const t of tests) {
    current++;
    const base: Bundle = { class: t.class, current, id: "AndroidJUnitRunner", numtests: tests.length, test: t.name };
    const display = `${t.name}(${t.class})`;
    const stream = t.class !== lastClass ? `\n${t.class}:` : "";
    lastClass = t.class;
    await status(1, { ...base, stream });
    run.log("TestRunner", `started: ${display}`, 4);
    const simple = t.class.split(".").pop() ?? t.class;
    for (const line of t.log) run.log(simple, line, 4);
    if (t.durationMs > 0) await delay(t.durationMs);
    let result = t.result;
    let stack = t.stack ?? `java.lang.AssertionError: ${t.name} failed\n\tat ${t.class}.${t.name}(${simple}.java:42)`;
    if (t.provision) {
      const p = t.provision;
      run.log(simple, `scanning for ${p.servicePrefix}* (${p.scanMs} ms)`, 4);
      const answer = await benchAir.request(p.servicePrefix, { ssid: p.ssid, password: p.password, pop: p.pop }, p.scanMs);
      const failure = answer === undefined ? `no device advertising ${p.servicePrefix}* found in ${p.scanMs} ms` : answer.reply.ok ? undefined : `${answer.service}: ${answer.reply.message}`;
      if (answer?.reply.ok) run.log(simple, `provisioned ${answer.service}: ${answer.reply.message}`, 4);
      if (failure !== undefined && result === "pass") {
        result = "fail";
        stack = `java.lang.AssertionError: ${failure}\n\tat ${t.class}.${t.name}(${simple}.java:57)`;
      }
    }
    if (t.talk) {
      const k = t.talk;
      const app = run.component.split("/")[0] ?? "";
      run.log(simple, `scanning for ${k.servicePrefix}* (${k.scanMs} ms)`, 4);
      const answer = await benchAir.request(k.servicePrefix, { app, minProtocol: String(k.minProtocol), maxProtocol: String(k.maxProtocol) }, k.scanMs);
      const failure = answer === undefined ? `no device advertising ${k.servicePrefix}* found in ${k.scanMs} ms` : answer.reply.ok ? undefined : `${answer.service} refused: ${answer.reply.message}`;
      if (answer?.reply.ok) run.log(simple, `talking to ${answer.service}: ${answer.reply.message}`, 4);
      if (failure !== undefined && result === "pass") {
        result = "fail";
        stack = `java.lang.AssertionError: ${failure}\n\tat ${t.class}.${t.name}(${simple}.java:63)`;
      }
    }
    switch (result) {
      case "pass":
        await status(0, { ...base, stream: "." });
        break;
      case "ignored":
        await status(-3, { ...base, stream: "" });
        break;
      case "assumption-failure":
        await status(-4, { ...base, stack, stream: "" });
        break;
      case "fail":
        failures.push({ display, stack });
        run.log("TestRunner", `failed: ${display}`, 4);
        run.log("TestRunner", `----- begin exception -----\n${stack}\n----- end exception -----`, 6);
        await status(-2, { ...base, stack, stream: `\nError in ${display}:\n${stack}` });
        break;
      case "crash": {
        const pkg = run.component.split("/")[0] ?? "";
        run.log("AndroidRuntime", `FATAL EXCEPTION: main\nProcess: ${pkg}, PID: 4242\n${t.stack ?? "java.lang.IllegalStateException: crashed"}`, 6, "crash");
        await run.write(`${renderBundle("INSTRUMENTATION_RESULT", { shortMsg: "Process crashed." })}INSTRUMENTATION_CODE: 0\n`);
        return 0;
      }
    }
    run.log("TestRunner", `finished: ${display}`, 4);
  }
  const seconds = ((Date.now() - started) / 1000).toFixed(3);
  let summary = `\n\nTime: ${seconds}\n`;
  if (failures.length === 0) summary += `\nOK (${tests.length} test${tests.length === 1 ? "" : "s"})\n\n\n`;
  else {
    summary += failures.length === 1 ? "There was 1 failure:\n" : `There were ${failures.length} failures:\n`;
    failures.forEach((f, i) => (summary += `${i + 1}) ${f.display}\n${f.stack}\n`));
    summary += `\nFAILURES!!!\nTests run: ${tests.length},  Failures: ${failures.length}\n\n\n`;
  }
  if (run.raw) await run.write(`${renderBundle("INSTRUMENTATION_RESULT", { stream: summary })}INSTRUMENTATION_CODE: -1\n`);
  else await run.write(summary);
  return 0;
}

/** What `am instrument` prints for a component that is not installed (exit status 1). */
export function missingInstrumentation(component: string): { stdout: string; stderr: string } {
  const [pkg, runner] = component.split("/");
  const cls = runner?.startsWith(".") ? `${pkg}${runner}` : runner;
  return {
    stdout: `INSTRUMENTATION_STATUS: Error=Unable to find instrumentation info for: ComponentInfo{${pkg}/${cls}}\nINSTRUMENTATION_STATUS_CODE: -1\n`,
    stderr: `android.util.AndroidException: INSTRUMENTATION_FAILED: ${pkg}/${cls}\n\tat com.android.commands.am.Instrument.run(Instrument.java:519)\n\tat com.android.commands.am.Am.runInstrument(Am.java:202)\n\tat com.android.commands.am.Am.onRun(Am.java:80)\n`,
  };
}
