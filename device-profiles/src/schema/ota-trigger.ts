import { z } from "zod";

/** What a trigger template may name: the values of the `ota.serve` the suite's `ota.trigger` watches. */
export const OTA_TRIGGER_PLACEHOLDERS = ["url", "manifest", "version"] as const;

const PLACEHOLDER = /\{([^{}]*)\}/g;
/** `{env:NAME}` in a header value: a secret the agent reads from its own environment when the step runs. */
const ENV_PLACEHOLDER = /^env:([A-Za-z_][A-Za-z0-9_]*)$/;

/** A text with `{url}`, `{manifest}` and `{version}` in it (and `{env:NAME}` where `env` allows); any other `{…}` is refused when the profile loads. */
function templateSchema(opts: { env: boolean }) {
  const allowed = [...OTA_TRIGGER_PLACEHOLDERS.map((p) => `{${p}}`), ...(opts.env ? ["{env:NAME}"] : [])].join(", ");
  return z
    .string()
    .min(1)
    .superRefine((text, ctx) => {
      for (const m of text.matchAll(PLACEHOLDER)) {
        const name = m[1] ?? "";
        if ((OTA_TRIGGER_PLACEHOLDERS as readonly string[]).includes(name)) continue;
        if (opts.env && ENV_PLACEHOLDER.test(name)) continue;
        const hint = !opts.env && name.startsWith("env:") ? " ({env:…} is for header values only, so that a secret is never typed or logged)" : "";
        ctx.addIssue({ code: "custom", message: `{${name}} is not a placeholder; use ${allowed}${hint}` });
      }
    });
}
const TriggerTemplateSchema = templateSchema({ env: false });

/** An HTTP field name (RFC 9110 token); the framing headers are fetch's to set. */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const FRAMING_HEADERS = ["host", "content-length", "transfer-encoding", "connection"];
/** Why this header name is refused, or undefined when it may be sent. */
function headerNameProblem(name: string): string | undefined {
  if (!HEADER_NAME.test(name)) return "not an HTTP header name (letters, digits and -)";
  if (FRAMING_HEADERS.includes(name.toLowerCase())) return "the agent sets this header itself";
  return undefined;
}
const HeaderValueSchema = templateSchema({ env: true }).refine((v) => !/[\r\n\0]/.test(v), "a header value is one line");

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
      /** Extra request headers, e.g. `Authorization: 'Bearer {env:OTA_TOKEN}'`: the secret stays in the agent's environment. */
      headers: z
        .record(z.string(), HeaderValueSchema)
        .superRefine((headers, ctx) => {
          for (const name of Object.keys(headers)) {
            const problem = headerNameProblem(name);
            if (problem) ctx.addIssue({ code: "custom", path: [name], message: problem });
          }
        })
        .optional(),
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

export type OtaTemplateValues = Partial<Record<(typeof OTA_TRIGGER_PLACEHOLDERS)[number], string>>;

/** The template with `{url}`, `{manifest}` and `{version}` replaced. */
export function fillOtaTemplate(template: string, values: OtaTemplateValues): string {
  return template.replace(PLACEHOLDER, (whole, name: string) => values[name as keyof typeof values] ?? whole);
}

/** The environment variables `{env:NAME}` in these header values name, each once, in order. */
export function otaHeaderEnvNames(headers: Readonly<Record<string, string>> | undefined): string[] {
  const names = new Set<string>();
  for (const value of Object.values(headers ?? {})) {
    for (const m of value.matchAll(PLACEHOLDER)) {
      const env = ENV_PLACEHOLDER.exec(m[1] ?? "");
      if (env?.[1]) names.add(env[1]);
    }
  }
  return [...names];
}

/**
 * The header values with the placeholders and `{env:NAME}` filled in from `env`. A name `env` lacks (or holds
 * empty) is returned in `missing` instead, and no headers: a request without its credentials is not sent.
 */
export function fillOtaHeaders(
  headers: Readonly<Record<string, string>>,
  values: OtaTemplateValues,
  env: Readonly<Record<string, string | undefined>>,
): { headers: Record<string, string> } | { missing: string[] } {
  const missing = otaHeaderEnvNames(headers).filter((name) => !env[name]);
  if (missing.length > 0) return { missing };
  const filled: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    filled[name] = fillOtaTemplate(value, values).replace(PLACEHOLDER, (whole, inner: string) => {
      const envName = ENV_PLACEHOLDER.exec(inner)?.[1];
      return envName === undefined ? whole : (env[envName] ?? "");
    });
  }
  return { headers: filled };
}
