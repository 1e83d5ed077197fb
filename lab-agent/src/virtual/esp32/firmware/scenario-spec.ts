import { z } from "zod";

/**
 * What the virtual firmware does after `app_main()`. Data only, so a scenario can come from the
 * command line, a JSON/YAML file, a manifest keyed by image SHA-256, or a blob inside the image.
 */

const LogLevelSchema = z.enum(["E", "W", "I", "D", "V"]);
export type LogLevel = z.infer<typeof LogLevelSchema>;

/** A timed ESP-IDF log line, printed `afterMs` after app_main() starts. */
export const ScriptedLineSchema = z.object({
  afterMs: z.number().int().min(0).default(0),
  level: LogLevelSchema.default("I"),
  tag: z.string().min(1).default("app"),
  message: z.string(),
});

/** Fields every scenario accepts: a name for reports and extra timed log lines. */
const common = {
  name: z.string().optional(),
  lines: z.array(ScriptedLineSchema).default([]),
};

export const PanicDetailsSchema = z.object({
  /** Xtensa exception name as panic.c prints it, e.g. LoadProhibited, StoreProhibited, IllegalInstruction. */
  reason: z.string().min(1).default("LoadProhibited"),
  description: z.string().default("Exception was unhandled."),
  core: z.number().int().min(0).max(1).default(0),
});
export type PanicDetails = z.infer<typeof PanicDetailsSchema>;

export const UnityCaseSchema = z.object({
  name: z.string().min(1),
  /** Unity's desc string as the menu shows it, e.g. "[gpio][timeout=30]". */
  tags: z.string().default("[app]"),
  file: z.string().min(1).default("main/test_app_main.c"),
  line: z.number().int().positive().optional(),
  outcome: z.enum(["pass", "fail", "ignore", "panic"]).default("pass"),
  /** Failure or ignore message; for "panic" the exception reason. */
  message: z.string().optional(),
  durationMs: z.number().int().min(0).default(5),
});
export type UnityCase = z.infer<typeof UnityCaseSchema>;

const DEFAULT_UNITY_CASES: z.input<typeof UnityCaseSchema>[] = [
  { name: "gpio toggles output level", tags: "[gpio]", file: "main/test_gpio.c", line: 21 },
  { name: "nvs stores and reads a blob", tags: "[nvs]", file: "main/test_nvs.c", line: 34 },
  { name: "wifi connects to access point", tags: "[wifi][timeout=30]", file: "main/test_wifi.c", line: 57, outcome: "fail", message: "Expected 0 Was 257" },
  { name: "adc reading within range", tags: "[adc]", file: "main/test_adc.c", line: 18 },
  { name: "spi flash erase sector", tags: "[spi_flash]", file: "main/test_flash.c", line: 42, outcome: "fail", message: "Expected 0xFF Was 0x00" },
];

export const IdleScenarioSchema = z.object({ kind: z.literal("idle"), ...common });

export const LoggerScenarioSchema = z.object({
  kind: z.literal("logger"),
  ...common,
  intervalMs: z.number().int().min(10).default(1000),
  level: LogLevelSchema.default("I"),
  tag: z.string().min(1).default("app"),
  message: z.string().default("tick"),
  /** Stop after this many lines; unlimited when absent. */
  count: z.number().int().positive().optional(),
});

export const ConsoleScenarioSchema = z.object({
  kind: z.literal("console"),
  ...common,
  prompt: z.string().default("esp32> "),
  /** Extra commands: name → reply text (lines separated by \n). */
  commands: z.record(z.string(), z.string()).default({}),
});

export const UnityScenarioSchema = z.object({
  kind: z.literal("unity"),
  ...common,
  cases: z.array(UnityCaseSchema).min(1).default(() => DEFAULT_UNITY_CASES.map((c) => UnityCaseSchema.parse(c))),
  /** Wrap PASS/FAIL/OK in Unity's colour codes (CONFIG_UNITY_ENABLE_COLOR). */
  color: z.boolean().default(false),
});

export const PanicScenarioSchema = z.object({
  kind: z.literal("panic"),
  ...common,
  afterMs: z.number().int().min(0).default(1000),
  panic: PanicDetailsSchema.default(() => PanicDetailsSchema.parse({})),
});

export const HangScenarioSchema = z.object({
  kind: z.literal("hang"),
  ...common,
  /** When the app stops feeding the watchdog. */
  afterMs: z.number().int().min(0).default(500),
  /** Task watchdog period (CONFIG_ESP_TASK_WDT_TIMEOUT_S is 5 s on real boards). */
  watchdogMs: z.number().int().min(50).default(5000),
  task: z.string().default("main"),
});

export const BootloopScenarioSchema = z.object({
  kind: z.literal("bootloop"),
  ...common,
  /** How long into startup (before app_main) the board resets. */
  afterMs: z.number().int().min(0).default(200),
  cause: z.enum(["panic", "brownout", "abort"]).default("panic"),
});

/**
 * An app that updates itself over HTTP the way ESP-IDF's native OTA example does: an esp_console
 * REPL with `ota <url>` (and the console scenario's commands), or polling `manifestUrl` (JSON with
 * `url` and `version`). A freshly updated app confirms itself on its first boot unless `markValid`
 * is false: then it stays PENDING_VERIFY and the next reset rolls back.
 */
export const OtaScenarioSchema = z.object({
  kind: z.literal("ota"),
  ...common,
  prompt: z.string().default("esp32> "),
  commands: z.record(z.string(), z.string()).default({}),
  markValid: z.boolean().default(true),
  /** Poll this manifest URL instead of waiting for a command. */
  manifestUrl: z.string().url().optional(),
  pollMs: z.number().int().min(100).default(5000),
  /** The log tag of the app's OTA lines. */
  tag: z.string().min(1).default("ota"),
  /** Give up on a download that sends nothing for this long (esp_http_client's timeout). */
  receiveTimeoutMs: z.number().int().min(100).default(5000),
  /**
   * CONFIG_SECURE_SIGNED_ON_UPDATE_NO_SECURE_BOOT: an update must carry a Secure Boot V2 signature by the key
   * that signed the running app (`hil image sign`), or esp_ota_end refuses it.
   */
  signedUpdates: z.boolean().default(false),
  /** Also take `POST <path>` with the image URL as the body, on 127.0.0.1:`port` (a profile's `via: http` trigger). */
  httpTrigger: z
    .object({
      port: z.number().int().min(1).max(65535),
      path: z.string().startsWith("/").default("/ota"),
      /** The Authorization header the endpoint wants (e.g. `Bearer s3cret`); without it every request is let in. */
      authorization: z.string().min(1).optional(),
    })
    .strict()
    .optional(),
  /**
   * Advertise `<servicePrefix><end of MAC>` on the bench's air for a companion app, which connects only if
   * its protocol range covers `protocol` (docs/ota.md, "Coupled updates").
   */
  companion: z.object({ servicePrefix: z.string().min(1).max(20).default("DEV_"), protocol: z.number().int().min(0) }).strict().optional(),
});

/**
 * ESP-IDF's Wi-Fi provisioning over BLE: advertises `serviceName` (PROV_ + the end of the MAC by
 * default) on the bench's virtual air, where a virtual phone's scripted test sends credentials.
 */
export const ProvisioningScenarioSchema = z.object({
  kind: z.literal("provisioning"),
  ...common,
  serviceName: z.string().min(1).max(29).optional(),
  /** Proof of possession the phone must give (security1). */
  pop: z.string().default("abcd1234"),
  /** The address the app reports once "connected". */
  ip: z.string().default("192.168.4.23"),
});

export const ScenarioSpecSchema = z.discriminatedUnion("kind", [
  IdleScenarioSchema,
  LoggerScenarioSchema,
  ConsoleScenarioSchema,
  UnityScenarioSchema,
  PanicScenarioSchema,
  HangScenarioSchema,
  BootloopScenarioSchema,
  OtaScenarioSchema,
  ProvisioningScenarioSchema,
]);
/** A parsed scenario, every default filled in. */
export type ScenarioSpec = z.infer<typeof ScenarioSpecSchema>;
/** What a caller may write (defaults optional). */
export type ScenarioSpecInput = z.input<typeof ScenarioSpecSchema>;
export type ScenarioKind = ScenarioSpec["kind"];

export const BUILTIN_SCENARIOS: readonly ScenarioKind[] = ["idle", "logger", "console", "unity", "panic", "hang", "bootloop", "ota", "provisioning"];

/**
 * Image SHA-256 (lowercase hex) → scenario. A key matches either the SHA-256 of the image file's
 * bytes (header through appended hash, what `sha256sum app.bin` prints for an unpadded file) or
 * the image's own appended validation hash. `hil image info` prints both.
 */
export const ScenarioManifestSchema = z.object({
  images: z.record(z.string().regex(/^[0-9a-f]{64}$/, "keys must be 64 lowercase hex digits (SHA-256)"), ScenarioSpecSchema),
});
export type ScenarioManifest = z.infer<typeof ScenarioManifestSchema>;
