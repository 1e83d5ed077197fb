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
  .object({
    type: z.literal("flash"),
    ...onRole,
    images: z.array(FlashImageSchema).min(1),
    erase: z.boolean().default(false),
    /**
     * reset: when an app goes to an app partition and the partition table (the one this step writes, else the
     * board's) has otadata, blank otadata too, so the new app boots and not a stale OTA slot (as `idf.py flash`
     * does); keep: leave otadata as the board has it.
     */
    otadata: z.enum(["reset", "keep"]).default("reset"),
  })
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
    /**
     * Declared failures (a compatibility matrix, e.g. an old app against new firmware): each named test must
     * fail, and then counts as passed; one that passes, or does not run, fails the step. Others must pass.
     */
    expectFailures: z
      .array(
        z
          .object({
            test: z.string().regex(/^[\w.$]+#[\w$]+$/, "a test as <class>#<method>, e.g. com.example.CompatTest#talksToBoard"),
            reason: z.string().min(1),
          })
          .strict(),
      )
      .default([]),
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
export const AbImageSchema = z
  .object({
    /** Without a slot suffix: the step adds the inactive slot's (boot → boot_b). */
    partition: z
      .string()
      .regex(/^[a-z0-9_]+$/, "a partition name, e.g. boot")
      .refine((p) => !/_[ab]$/.test(p), "give the partition without its slot suffix (boot, not boot_b); the step flashes the inactive slot"),
    artifact: z.string().min(1),
  })
  .strict();
/**
 * An A/B update from the bootloader (docs/android.md): flash the slot that is not running, make it
 * active, reboot, and check which slot came up.
 */
export const AndroidAbUpdateStepSchema = z
  .object({
    type: z.literal("android.ab-update"),
    ...onRole,
    images: z.array(AbImageSchema).min(1),
    /** "new-slot": the device boots the updated slot and marks it successful; "fallback": the update cannot boot, the bootloader gives it up and the old slot runs again. */
    expect: z.enum(["new-slot", "fallback"]).default("new-slot"),
  })
  .strict();

/** A name earlier steps publish values under: `${ota.url}`. */
const VarNameSchema = z.string().regex(/^[a-z][a-z0-9_]*$/, "a lowercase identifier, e.g. ota");
const PartitionLabelSchema = z.string().regex(/^[A-Za-z0-9_]{1,16}$/, "a partition label, e.g. ota_1");

/**
 * The agent serves an artifact over HTTP on the bench network (docs/ota.md). Later steps read
 * `${<as>.url}` (the image) and `${<as>.manifest}` (JSON naming it and its version).
 */
export const OtaServeStepSchema = z
  .object({
    type: z.literal("ota.serve"),
    ...base,
    artifact: z.string().min(1),
    as: VarNameSchema.default("ota"),
    /** Bind address; 127.0.0.1 reaches virtual boards, a real bench needs its interface's address. */
    host: z.string().min(1).default("127.0.0.1"),
    /** 0: a free port. */
    port: z.number().int().min(0).max(65535).default(0),
    /** Bytes per second. */
    throttle: z.number().int().positive().optional(),
    /** "unsigned": a Secure Boot V2 signed image served without its signature sector. */
    fault: z.enum(["none", "cut", "corrupt", "wrong-chip", "unsigned"]).default("none"),
    /** For fault "cut": the share of the image (percent) sent before the connection is dropped. */
    cutAt: z.number().min(0).max(100).default(50),
    /** For fault "corrupt": the byte to invert (default: one in the image's code). */
    corruptOffset: z.number().int().nonnegative().optional(),
  })
  .strict();
export const OtaTriggerStepSchema = z
  .object({
    type: z.literal("ota.trigger"),
    ...onRole,
    /**
     * "command": type `command` into the console; "poll": the app polls the manifest URL itself. Absent: the
     * profile's `ota.trigger` (command, http or poll; docs/ota.md), else the command `ota ${<server>.url}`.
     */
    via: z.enum(["command", "poll"]).optional(),
    /** Console command, `${name}` replaced by published values; overrides the profile's trigger. */
    command: z.string().min(1).optional(),
    /** Which ota.serve to watch (its `as`). */
    server: VarNameSchema.default("ota"),
  })
  .strict();
export const ExpectBootStepSchema = z
  .object({
    type: z.literal("expect-boot"),
    ...onRole,
    /** esp_app_desc_t version, as the boot log's `App version:` prints it. */
    version: z.string().min(1).optional(),
    /** The partition the bootloader loaded the app from, e.g. ota_1. */
    partition: PartitionLabelSchema.optional(),
  })
  .strict();
export const ExpectRollbackStepSchema = z
  .object({
    type: z.literal("expect-rollback"),
    ...onRole,
    /** The version that must still be the one running. */
    version: z.string().min(1),
    partition: PartitionLabelSchema.optional(),
    /** "reboot": the next boot comes up on `version` (an unconfirmed image rolled back); "refuse": the app refuses the image and keeps running. */
    mode: z.enum(["reboot", "refuse"]).default("reboot"),
    /** For "refuse": the line that says the image was refused. */
    pattern: RegexSchema.default("OTA failed|Image validation failed"),
    /** For "refuse": how long the board must then run on without restarting. */
    settle: DurationSchema.default(2000),
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
  AndroidAbUpdateStepSchema,
  OtaServeStepSchema,
  OtaTriggerStepSchema,
  ExpectBootStepSchema,
  ExpectRollbackStepSchema,
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
    /** What the step saw, as named values (an OTA step: version, partition, bytes served, …). */
    details: z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()])).optional(),
    cases: z.array(CaseResultSchema).default([]),
    /** Console sequence numbers this step covers (for JUnit system-out and log links). */
    firstSeq: z.number().int().nonnegative().optional(),
    lastSeq: z.number().int().nonnegative().optional(),
  })
  .strict();
export type StepResult = z.infer<typeof StepResultSchema>;
