import { z } from "zod";
import { BoardIdSchema } from "./board.js";
import { CaseResultSchema, StepResultSchema } from "./step.js";
import { SuiteSchema } from "./suite.js";

const LabelsSchema = z.record(z.string().regex(/^[a-zA-Z0-9._/-]+$/), z.string());
export const Sha256Schema = z.string().regex(/^[0-9a-f]{64}$/, "must be a lowercase hex SHA-256");

/** Which board a role runs on: a pinned board, or any board of a profile with these labels. */
export const BoardRequirementSchema = z
  .object({
    profile: z.string().min(1).optional(),
    board: BoardIdSchema.optional(),
    labels: LabelsSchema.optional(),
  })
  .strict();
export type BoardRequirement = z.infer<typeof BoardRequirementSchema>;

export const ArtifactRefSchema = z
  .object({
    sha256: Sha256Schema,
    size: z.number().int().nonnegative(),
    filename: z.string().optional(),
  })
  .strict();
export type ArtifactRef = z.infer<typeof ArtifactRefSchema>;

export const CiMetadataSchema = z
  .object({
    repository: z.string().max(512).optional(),
    commit: z.string().max(128).optional(),
    branch: z.string().max(256).optional(),
    pipelineUrl: z.url().optional(),
    job: z.string().max(256).optional(),
  })
  .strict();

export const RunRequestSchema = z
  .object({
    suite: z.string().min(1),
    /** Shorthand for the suite's first role (usually dut). */
    profile: z.string().min(1).optional(),
    board: BoardIdSchema.optional(),
    labels: LabelsSchema.optional(),
    /** Per-role requirements for multi-board suites. */
    roles: z.record(z.string(), BoardRequirementSchema).optional(),
    /** artifact name → stored artifact (upload first) or a URL to fetch. */
    artifacts: z.record(z.string(), z.union([ArtifactRefSchema, z.object({ url: z.url() }).strict()])).default({}),
    priority: z.number().int().min(0).max(100).default(50),
    timeoutSec: z.number().int().min(1).max(86_400).optional(),
    /** How long the run may wait in the queue (each time it is queued) before it ends timed-out; the lab's default otherwise. */
    queueTimeoutSec: z.number().int().min(1).max(30 * 86_400).optional(),
    ci: CiMetadataSchema.optional(),
    maxAttempts: z.number().int().min(1).max(10).default(3),
  })
  .strict();
export type RunRequest = z.infer<typeof RunRequestSchema>;

export const RunStateSchema = z.enum(["queued", "leased", "running", "passed", "failed", "error", "cancelled", "timed-out"]);
export type RunState = z.infer<typeof RunStateSchema>;
export const TERMINAL_RUN_STATES: readonly RunState[] = ["passed", "failed", "error", "cancelled", "timed-out"];

export const RunErrorSchema = z.object({ code: z.string(), message: z.string() }).strict();

export const AttemptSchema = z
  .object({
    attempt: z.number().int().positive(),
    boards: z.record(z.string(), z.string()),
    agent: z.string().optional(),
    startedAt: z.number().int().optional(),
    endedAt: z.number().int().optional(),
    outcome: z.enum(["pass", "fail", "error", "cancelled"]).optional(),
    error: RunErrorSchema.optional(),
  })
  .strict();

export const RunSchema = z
  .object({
    id: z.string(),
    request: RunRequestSchema,
    submitter: z.string(),
    state: RunStateSchema,
    /** role → board id of the current attempt */
    boards: z.record(z.string(), z.string()).default({}),
    attempts: z.array(AttemptSchema).default([]),
    createdAt: z.number().int(),
    startedAt: z.number().int().optional(),
    endedAt: z.number().int().optional(),
    steps: z.array(StepResultSchema).default([]),
    cases: z.array(CaseResultSchema).default([]),
    error: RunErrorSchema.optional(),
    /** Why the run still waits (queued only): "no idle esp32-virtual board", "board x booked until …". */
    waitingFor: z.string().optional(),
    /** Set on runs the lab starts itself: `health-check` (a board's health-check suite; submitter `lab.health`). */
    purpose: z.enum(["health-check"]).optional(),
  })
  .strict();
export type Run = z.infer<typeof RunSchema>;

/** What the dispatcher hands to an agent's queue. */
export const JobSchema = z
  .object({
    runId: z.string(),
    attempt: z.number().int().positive(),
    suite: SuiteSchema,
    /** role → board id on this agent */
    boards: z.record(z.string(), z.string()),
    artifacts: z.record(z.string(), ArtifactRefSchema),
    timeoutMs: z.number().int().positive(),
    leaseToken: z.string(),
  })
  .strict();
export type Job = z.infer<typeof JobSchema>;
export type JobInput = z.input<typeof JobSchema>;

export const JobResultSchema = z
  .object({
    runId: z.string(),
    attempt: z.number().int().positive(),
    outcome: z.enum(["pass", "fail", "error", "cancelled"]),
    steps: z.array(StepResultSchema),
    cases: z.array(CaseResultSchema),
    error: RunErrorSchema.optional(),
    durationMs: z.number().nonnegative(),
  })
  .strict();
export type JobResult = z.infer<typeof JobResultSchema>;
