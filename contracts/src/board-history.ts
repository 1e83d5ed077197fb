import { z } from "zod";

/**
 * What happened to a board's health, one entry per event (docs/scheduler.md, "Board health"):
 * failures charged to it, each recovery step, each health check and its outcome, quarantine and return.
 */
export const BoardHistoryKindSchema = z.enum([
  "infra-failure",
  "reset",
  "power-cycle",
  "reflash",
  "health-check",
  "quarantined",
  "returned",
]);
export type BoardHistoryKind = z.infer<typeof BoardHistoryKindSchema>;

export const BoardHistoryEntrySchema = z
  .object({
    /** Epoch ms. */
    at: z.number().int().nonnegative(),
    kind: BoardHistoryKindSchema,
    /**
     * `health-check`: passed | failed | started; a recovery step: done | skipped | failed;
     * absent for the others.
     */
    outcome: z.enum(["started", "passed", "failed", "done", "skipped"]).optional(),
    detail: z.string().max(2000),
    /** The run it is about: the failed user run, or the health-check run. */
    run: z.string().optional(),
  })
  .strict();
export type BoardHistoryEntry = z.infer<typeof BoardHistoryEntrySchema>;

/** Entries kept per board (older ones are trimmed). */
export const BOARD_HISTORY_MAX = 200;

/**
 * Who the lab is when it acts on a board itself: the submitter of health-check runs and the actor of
 * recovery commands. A colon cannot appear in a token or user name, so no person can be it.
 */
export const LAB_HEALTH_ACTOR = "lab:health";

/**
 * The agent's board-log line that closes a lab command (`LAB_HEALTH_ACTOR` only): the scheduler waits for it
 * before it runs the health check that follows a recovery step. Groups: command id, type, finished|failed, detail.
 */
export const LAB_COMMAND_DONE = /^command (\S+) \(([a-z-]+)\) (finished|failed)(?:: (.*))?$/;
