import { z } from "zod";
import { DurationSchema } from "./duration.js";

const RoleSchema = z.string().regex(/^[a-z][a-z0-9_-]*$/, "role names are lowercase identifiers, e.g. dut");
const RegexSchema = z.string().min(1).superRefine((src, ctx) => {
  try {
    new RegExp(src);
  } catch (err) {
    ctx.addIssue({ code: "custom", message: `regex does not compile: ${(err as Error).message}` });
  }
});

const base = {
  name: z.string().min(1).optional(),
  timeout: DurationSchema.optional(),
};
const onRole = { ...base, role: RoleSchema.default("dut") };

export const FlashImageSchema = z
  .object({
    artifact: z.string().min(1),
    offset: z.union([z.number().int().nonnegative(), z.string().regex(/^0x[0-9a-fA-F]+$/)]).optional(),
  })
  .strict();

export const FlashStepSchema = z
  .object({ type: z.literal("flash"), ...onRole, images: z.array(FlashImageSchema).min(1), erase: z.boolean().default(false) })
  .strict();
export const ResetStepSchema = z
  .object({ type: z.literal("reset"), ...onRole, mode: z.enum(["run", "download"]).default("run") })
  .strict();
export const ExpectStepSchema = z.object({ type: z.literal("expect"), ...onRole, pattern: RegexSchema }).strict();
export const ExpectNotStepSchema = z
  .object({ type: z.literal("expect-not"), ...onRole, pattern: RegexSchema, duration: DurationSchema })
  .strict();
export const SendStepSchema = z
  .object({ type: z.literal("send"), ...onRole, text: z.string(), newline: z.boolean().default(true) })
  .strict();
export const UnityStepSchema = z
  .object({
    type: z.literal("unity"),
    ...onRole,
    /** Case names or menu numbers; empty or absent = every case in the menu. */
    cases: z.array(z.union([z.string().min(1), z.number().int().positive()])).optional(),
    caseTimeout: DurationSchema.optional(),
  })
  .strict();
export const WaitStepSchema = z.object({ type: z.literal("wait"), ...base, duration: DurationSchema }).strict();
export const AndroidInstallStepSchema = z
  .object({ type: z.literal("android.install"), ...onRole, artifact: z.string().min(1), replace: z.boolean().default(true) })
  .strict();
export const AndroidInstrumentStepSchema = z
  .object({
    type: z.literal("android.instrument"),
    ...onRole,
    /** e.g. com.example.test/androidx.test.runner.AndroidJUnitRunner */
    runner: z.string().regex(/^[\w.]+\/[\w.$]+$/, "must be <package>/<runner class>"),
    args: z.record(z.string(), z.string()).default({}),
  })
  .strict();
export const AndroidShellStepSchema = z
  .object({ type: z.literal("android.shell"), ...onRole, command: z.string().min(1), expectExit: z.number().int().default(0) })
  .strict();
export const AndroidPushStepSchema = z
  .object({ type: z.literal("android.push"), ...onRole, artifact: z.string().min(1), path: z.string().startsWith("/") })
  .strict();
export const FastbootFlashStepSchema = z
  .object({
    type: z.literal("fastboot.flash"),
    ...onRole,
    partition: z.string().regex(/^[a-z0-9_]+$/),
    artifact: z.string().min(1),
  })
  .strict();

export const StepSchema = z.discriminatedUnion("type", [
  FlashStepSchema,
  ResetStepSchema,
  ExpectStepSchema,
  ExpectNotStepSchema,
  SendStepSchema,
  UnityStepSchema,
  WaitStepSchema,
  AndroidInstallStepSchema,
  AndroidInstrumentStepSchema,
  AndroidShellStepSchema,
  AndroidPushStepSchema,
  FastbootFlashStepSchema,
]);
export type Step = z.infer<typeof StepSchema>;
export type StepType = Step["type"];
export const STEP_TYPES = StepSchema.options.map((o) => o.shape.type.value) as StepType[];

export const OutcomeSchema = z.enum(["pass", "fail", "skip", "error"]);
export type Outcome = z.infer<typeof OutcomeSchema>;

export const CaseResultSchema = z
  .object({
    name: z.string(),
    /** Unity file / Java class: becomes the JUnit classname. */
    group: z.string().optional(),
    outcome: OutcomeSchema,
    message: z.string().optional(),
    durationMs: z.number().nonnegative(),
    file: z.string().optional(),
    line: z.number().int().optional(),
    /** Console sequence numbers this case covers (for JUnit system-out and log links). */
    firstSeq: z.number().int().nonnegative().optional(),
    lastSeq: z.number().int().nonnegative().optional(),
  })
  .strict();
export type CaseResult = z.infer<typeof CaseResultSchema>;

export const StepResultSchema = z
  .object({
    index: z.number().int().nonnegative(),
    type: z.string(),
    name: z.string(),
    role: z.string().optional(),
    outcome: OutcomeSchema,
    startedAt: z.number().int().nonnegative(),
    durationMs: z.number().nonnegative(),
    /** The time this step was allowed (its own timeout, or what was left of the suite's budget). */
    timeoutMs: z.number().nonnegative().optional(),
    message: z.string().optional(),
    /** LabError code when the step ended in an error. */
    errorCode: z.string().optional(),
    cases: z.array(CaseResultSchema).default([]),
    /** Console sequence numbers this step covers (for JUnit system-out and log links). */
    firstSeq: z.number().int().nonnegative().optional(),
    lastSeq: z.number().int().nonnegative().optional(),
  })
  .strict();
export type StepResult = z.infer<typeof StepResultSchema>;
