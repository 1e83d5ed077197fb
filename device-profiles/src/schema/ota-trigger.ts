import { z } from "zod";

/** What a trigger template may name: the values of the `ota.serve` the suite's `ota.trigger` watches. */
export const OTA_TRIGGER_PLACEHOLDERS = ["url", "manifest", "version"] as const;

const PLACEHOLDER = /\{([^{}]*)\}/g;

/** A text with `{url}`, `{manifest}` and `{version}` in it; any other `{…}` is refused when the profile loads. */
const TriggerTemplateSchema = z
  .string()
  .min(1)
  .superRefine((text, ctx) => {
    for (const m of text.matchAll(PLACEHOLDER)) {
      const name = m[1] ?? "";
      if (!(OTA_TRIGGER_PLACEHOLDERS as readonly string[]).includes(name)) {
        ctx.addIssue({ code: "custom", message: `{${name}} is not a placeholder; use ${OTA_TRIGGER_PLACEHOLDERS.map((p) => `{${p}}`).join(", ")}` });
      }
    }
  });

/**
 * How a device of this type is told to update (docs/ota.md, "The profile's trigger"): a console command,
 * an HTTP request to the device, or nothing because the device polls a manifest. A suite's ota.trigger
 * step without `command` uses it; the step's `command` overrides it.
 */
export const OtaTriggerSchema = z.discriminatedUnion("via", [
  z
    .object({
      via: z.literal("command"),
      /** Typed into the console, e.g. `ota {url}`. */
      command: TriggerTemplateSchema,
    })
    .strict(),
  z
    .object({
      via: z.literal("http"),
      /** The device's update endpoint, e.g. `http://192.168.4.1/ota`. */
      url: TriggerTemplateSchema.refine((u) => /^http:\/\/[^/\s]+/.test(u), "an http:// URL, e.g. http://192.168.4.1/ota"),
      method: z.enum(["GET", "POST", "PUT"]).default("POST"),
      /** The request body (not with GET), e.g. `{url}`. */
      body: TriggerTemplateSchema.optional(),
    })
    .strict()
    .refine((t) => t.method !== "GET" || t.body === undefined, { path: ["body"], message: "a GET request has no body; drop body or use method: POST" }),
  z
    .object({
      via: z.literal("poll"),
      /** Where the device looks for `{ "version", "url" }`; the suite's ota.serve must serve there. */
      manifestUrl: z.string().regex(/^http:\/\/[^/\s]+\/\S*$/, "an http:// URL, e.g. http://10.0.0.2:8070/manifest.json").optional(),
    })
    .strict(),
]);
export type OtaTrigger = z.infer<typeof OtaTriggerSchema>;

export const OtaSettingsSchema = z.object({ trigger: OtaTriggerSchema }).strict();
export type OtaSettings = z.infer<typeof OtaSettingsSchema>;

/** The template with `{url}`, `{manifest}` and `{version}` replaced. */
export function fillOtaTemplate(template: string, values: Partial<Record<(typeof OTA_TRIGGER_PLACEHOLDERS)[number], string>>): string {
  return template.replace(PLACEHOLDER, (whole, name: string) => values[name as keyof typeof values] ?? whole);
}
