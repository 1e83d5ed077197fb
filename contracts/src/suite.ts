import { z } from "zod";
import { DurationSchema } from "./duration.js";
import { StepSchema } from "./step.js";

export const SuiteNameSchema = z.string().regex(/^[a-z0-9][a-z0-9._-]*$/, "lowercase letters, digits, '.', '_' or '-'");

export const SuiteRoleSchema = z
  .object({
    profile: z.string().min(1),
    labels: z.record(z.string(), z.string()).optional(),
  })
  .strict();

export const SuiteArtifactSchema = z
  .object({
    description: z.string().optional(),
    required: z.boolean().default(true),
    /** esp-idf-build: an ESP-IDF build directory (flasher_args.json and the files it names), packed as one tar by `hil run`. */
    kind: z.enum(["esp32-app", "esp32-bin", "esp-idf-build", "apk", "android-image", "file"]).default("file"),
  })
  .strict();

/** A test suite: which boards it needs (roles), which files it takes, and what to do. */
export const SuiteSchema = z
  .object({
    name: SuiteNameSchema,
    description: z.string().optional(),
    roles: z.record(z.string().regex(/^[a-z][a-z0-9_-]*$/), SuiteRoleSchema).refine((r) => Object.keys(r).length > 0, {
      message: "a suite needs at least one role, e.g. dut: {profile: esp32-devkitc}",
    }),
    artifacts: z.record(z.string().regex(/^[a-z][a-z0-9_-]*$/), SuiteArtifactSchema).default({}),
    timeout: DurationSchema.default(600_000),
    steps: z.array(StepSchema).min(1),
  })
  .strict()
  .superRefine((suite, ctx) => {
    suite.steps.forEach((step, i) => {
      if ("role" in step && !(step.role in suite.roles)) {
        ctx.addIssue({
          code: "custom",
          path: ["steps", i, "role"],
          message: `role "${step.role}" is not one of this suite's roles (${Object.keys(suite.roles).join(", ")})`,
        });
      }
      const artifacts: string[] = [];
      if (step.type === "flash") artifacts.push(...step.images.map((img) => img.artifact));
      if ("artifact" in step && typeof step.artifact === "string") artifacts.push(step.artifact);
      for (const name of artifacts) {
        if (!(name in suite.artifacts)) {
          ctx.addIssue({
            code: "custom",
            path: ["steps", i, step.type === "flash" ? "images" : "artifact"],
            message: `artifact "${name}" is not declared under artifacts:`,
          });
        }
      }
    });
  });
export type Suite = z.infer<typeof SuiteSchema>;
export type SuiteInput = z.input<typeof SuiteSchema>;
