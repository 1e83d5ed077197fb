import { z } from "zod";
import { ResetSequenceSchema } from "../reset/reset-sequence.js";
import { capabilitiesOf } from "../kinds.js";
import { ByteSizeSchema, OffsetSchema } from "./byte-size.js";
import { OtaSettingsSchema } from "./ota-trigger.js";

const hex4 = (what: string) => z.string().regex(/^[0-9a-fA-F]{4}$/, `${what} must be 4 hex digits, e.g. 10c4`);

const RegexSourceSchema = z
  .string()
  .min(1)
  .superRefine((src, ctx) => {
    try {
      new RegExp(src);
    } catch (err) {
      ctx.addIssue({ code: "custom", message: `regex does not compile: ${(err as Error).message}` });
    }
  });

/** What ESP-IDF prints when an app crashes: a CPU exception, abort(), a failed assert, a stack overflow, a brownout. */
export const ESP_IDF_PANIC = "Guru Meditation Error|abort\\(\\) was called|assert failed:|\\*\\*\\*ERROR\\*\\*\\* A stack overflow|Brownout detector was triggered";

export const ChipSchema = z.enum(["esp32", "esp32s2", "esp32s3", "esp32c3", "esp32c6", "esp32h2"]);
export type Chip = z.infer<typeof ChipSchema>;

export const UsbFingerprintSchema = z
  .object({
    vendorId: hex4("vendorId"),
    productId: hex4("productId"),
    /** What the bridge is, for people reading the profile ("CP2102 USB-UART"). */
    description: z.string().optional(),
  })
  .strict();

export const SerialSettingsSchema = z
  .object({
    /** ROM / console baud rate. */
    baud: z.number().int().positive().default(115200),
    /** Rate esptool-js switches to after the stub runs. */
    flashBaud: z.number().int().positive().default(460800),
  })
  .strict();

export const ResetSettingsSchema = z
  .object({
    /** Sequence that leaves the chip in the ROM download mode (default: the classic DTR/RTS auto-reset circuit). */
    download: ResetSequenceSchema.default("D0|R1|W100|D1|R0|W50|D0"),
    /** Sequence that boots the flashed app. */
    run: ResetSequenceSchema.default("D0|R1|W100|R0"),
    /** True when the port disappears and comes back on reset (native USB-Serial/JTAG). */
    usbReenumerates: z.boolean().default(false),
  })
  .strict();

export const FlashLayoutSchema = z
  .object({
    size: ByteSizeSchema.default(4 * 1024 * 1024),
    mode: z.enum(["qio", "qout", "dio", "dout", "keep"]).default("dio"),
    freq: z.enum(["80m", "40m", "26m", "20m", "keep"]).default("40m"),
    /** Default: 0x1000 on esp32 and esp32s2, 0x0 on the later chips. */
    bootloaderOffset: OffsetSchema.optional(),
    partitionTableOffset: OffsetSchema.default(0x8000),
    appOffset: OffsetSchema.default(0x10000),
  })
  .strict();

export const ConsoleLandmarksSchema = z
  .object({
    /** ROM banner line that starts every boot. */
    bootMarker: RegexSourceSchema.default("rst:0x[0-9a-f]+ \\("),
    /** The app is running from here on. */
    appStartMarker: RegexSourceSchema.default("main_task: Calling app_main\\(\\)"),
    /** Any match is a crash; matched on every console line of a run. */
    panicPattern: RegexSourceSchema.default(ESP_IDF_PANIC),
    /** Interactive prompt, when the app has one. */
    prompt: RegexSourceSchema.optional(),
    /** This many boot markers without an app start in between means a boot loop. */
    bootLoopCount: z.number().int().min(2).default(3),
  })
  .strict();

export const AndroidSettingsSchema = z
  .object({
    adb: z.boolean().default(true),
    fastboot: z.boolean().default(false),
  })
  .strict();

/** Which Android devices a profile is for, by their properties (an adb device matches when every given one does). */
export const AndroidMatchSchema = z
  .object({
    /** ro.product.model */
    model: z.string().min(1).optional(),
    /** ro.product.name */
    product: z.string().min(1).optional(),
    /** ro.product.device */
    device: z.string().min(1).optional(),
    /** ro.build.version.sdk, at least */
    minSdk: z.number().int().min(1).optional(),
    /** ro.build.version.sdk, at most */
    maxSdk: z.number().int().min(1).optional(),
  })
  .strict()
  .superRefine((m, ctx) => {
    if (m.minSdk !== undefined && m.maxSdk !== undefined && m.maxSdk < m.minSdk) {
      ctx.addIssue({ code: "custom", path: ["maxSdk"], message: `maxSdk ${m.maxSdk} is below minSdk ${m.minSdk}: no device could match` });
    }
  });

export const ProfileIdSchema = z
  .string()
  .regex(/^[a-z0-9][a-z0-9._-]*$/, "profile ids are lowercase letters, digits, '.', '_' or '-', e.g. esp32-devkitc");

const CapabilityListSchema = z.array(z.string().regex(/^[a-z][a-z0-9.-]*$/, "capabilities are lowercase words, e.g. flash"));

/** A suite name, or "none": no health check (a failing board is quarantined at once and an admin returns it). */
const HealthCheckSchema = z
  .string()
  .regex(/^[a-z0-9][a-z0-9._-]*$/, "a suite name (the board's health-check suite, e.g. esp32-health) or none");

const common = {
  id: ProfileIdSchema,
  name: z.string().min(1),
  virtual: z.boolean().default(false),
  usb: z.array(UsbFingerprintSchema).default([]),
  labels: z.record(z.string().regex(/^[a-zA-Z0-9._/-]+$/), z.string()).default({}),
};

/** Chips whose second-stage bootloader sits at 0x1000; the later ones put it at 0x0. */
const BOOTLOADER_AT_0x1000: readonly Chip[] = ["esp32", "esp32s2"];

export const Esp32ProfileSchema = z
  .object({
    ...common,
    kind: z.literal("esp32"),
    chip: ChipSchema,
    serial: SerialSettingsSchema.prefault({}),
    reset: ResetSettingsSchema.prefault({}),
    flash: FlashLayoutSchema.prefault({}),
    console: ConsoleLandmarksSchema.prefault({}),
    /** What this board type can do; default: everything an ESP32 driver provides. */
    capabilities: CapabilityListSchema.default([...capabilitiesOf("esp32")]),
    /** The suite that tells whether a board of this type is healthy: flash the lab's known-good image, boot to app_main. */
    healthCheck: HealthCheckSchema.default("esp32-health"),
    /** How the app on this board type is told to update over the air (docs/ota.md); absent: the console command `ota {url}`. */
    ota: OtaSettingsSchema.optional(),
  })
  .strict()
  .transform((p) => ({
    ...p,
    flash: { ...p.flash, bootloaderOffset: p.flash.bootloaderOffset ?? (BOOTLOADER_AT_0x1000.includes(p.chip) ? 0x1000 : 0) },
  }));

export const AndroidProfileSchema = z
  .object({
    ...common,
    kind: z.literal("android"),
    android: AndroidSettingsSchema.prefault({}),
    /**
     * Which devices the agent's adb discovery registers as this profile. Absent: none (the profile is only used for
     * boards named explicitly); `{}`: any device. The most specific matching profile wins.
     */
    match: AndroidMatchSchema.optional(),
    /** What this board type can do; default: everything the Android driver provides (fastboot only when android.fastboot). */
    capabilities: CapabilityListSchema.optional(),
    /** The suite that tells whether a board of this type is healthy: booted (sys.boot_completed 1) and a shell round trip. */
    healthCheck: HealthCheckSchema.default("android-health"),
  })
  .strict()
  .transform((p) => ({
    ...p,
    capabilities: p.capabilities ?? capabilitiesOf("android").filter((c) => c !== "fastboot" || p.android.fastboot),
  }));

/**
 * A board type: how to recognise it and talk to it. Discriminated by `kind`; each kind has its own
 * sections with their defaults set here, so nothing downstream repeats a default.
 */
export const DeviceProfileSchema = z.discriminatedUnion("kind", [Esp32ProfileSchema, AndroidProfileSchema]).superRefine((p, ctx) => {
  if (!p.virtual && p.usb.length === 0) {
    ctx.addIssue({ code: "custom", path: ["usb"], message: "a physical board needs at least one usb fingerprint {vendorId, productId}" });
  }
  const seen = new Set<string>();
  p.usb.forEach((u, i) => {
    const key = `${u.vendorId}:${u.productId}`.toLowerCase();
    if (seen.has(key)) ctx.addIssue({ code: "custom", path: ["usb", i], message: `usb fingerprint ${key} is listed twice` });
    seen.add(key);
  });
  const provided: readonly string[] = capabilitiesOf(p.kind);
  p.capabilities.forEach((c, i) => {
    if (!provided.includes(c)) {
      ctx.addIssue({ code: "custom", path: ["capabilities", i], message: `"${c}" is not something a kind: ${p.kind} board's driver provides (it provides: ${provided.join(", ")})` });
    }
  });
  if (p.kind === "android" && p.capabilities.includes("fastboot") && !p.android.fastboot) {
    const i = p.capabilities.indexOf("fastboot");
    ctx.addIssue({ code: "custom", path: ["capabilities", i], message: "fastboot needs android.fastboot: true (the board must have a bootloader the lab can reach)" });
  }
});

export type DeviceProfile = z.infer<typeof DeviceProfileSchema>;
export type DeviceProfileInput = z.input<typeof DeviceProfileSchema>;
export type Esp32Profile = Extract<DeviceProfile, { kind: "esp32" }>;
export type AndroidProfile = Extract<DeviceProfile, { kind: "android" }>;
