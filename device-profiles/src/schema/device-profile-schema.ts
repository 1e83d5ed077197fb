import { z } from "zod";
import { ResetSequenceSchema } from "../reset/reset-sequence.js";
import { ByteSizeSchema, OffsetSchema } from "./byte-size.js";

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
    baud: z.number().int().positive(),
    /** Rate esptool-js switches to after the stub runs. */
    flashBaud: z.number().int().positive(),
  })
  .strict();

export const ResetSettingsSchema = z
  .object({
    /** Sequence that leaves the chip in the ROM download mode. */
    download: ResetSequenceSchema,
    /** Sequence that boots the flashed app. */
    run: ResetSequenceSchema,
    /** True when the port disappears and comes back on reset (native USB-Serial/JTAG). */
    usbReenumerates: z.boolean().default(false),
  })
  .strict();

export const FlashLayoutSchema = z
  .object({
    size: ByteSizeSchema,
    mode: z.enum(["qio", "qout", "dio", "dout", "keep"]),
    freq: z.enum(["80m", "40m", "26m", "20m", "keep"]),
    bootloaderOffset: OffsetSchema,
    partitionTableOffset: OffsetSchema,
    appOffset: OffsetSchema,
  })
  .strict();

export const ConsoleLandmarksSchema = z
  .object({
    /** ROM banner line that starts every boot. */
    bootMarker: RegexSourceSchema,
    /** The app is running from here on. */
    appStartMarker: RegexSourceSchema,
    /** Any match is a crash; matched on every console line of a run. */
    panicPattern: RegexSourceSchema,
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

export const ProfileIdSchema = z
  .string()
  .regex(/^[a-z0-9][a-z0-9._-]*$/, "profile ids are lowercase letters, digits, '.', '_' or '-', e.g. esp32-devkitc");

const ESP32_SECTIONS = ["chip", "serial", "reset", "flash", "console"] as const;

/** A board type: how to recognise it, talk to it, reset it, flash it and read its console. */
export const DeviceProfileSchema = z
  .object({
    id: ProfileIdSchema,
    name: z.string().min(1),
    kind: z.enum(["esp32", "android"]),
    chip: ChipSchema.optional(),
    virtual: z.boolean().default(false),
    usb: z.array(UsbFingerprintSchema).default([]),
    serial: SerialSettingsSchema.optional(),
    reset: ResetSettingsSchema.optional(),
    flash: FlashLayoutSchema.optional(),
    console: ConsoleLandmarksSchema.optional(),
    android: AndroidSettingsSchema.optional(),
    capabilities: z.array(z.string().regex(/^[a-z][a-z0-9.-]*$/, "capabilities are lowercase words, e.g. flash")).default([]),
    labels: z.record(z.string().regex(/^[a-zA-Z0-9._/-]+$/), z.string()).default({}),
  })
  .strict()
  .superRefine((p, ctx) => {
    if (p.kind === "esp32") {
      for (const key of ESP32_SECTIONS) {
        if (p[key] === undefined) ctx.addIssue({ code: "custom", path: [key], message: `missing field: a kind: esp32 profile needs ${key}` });
      }
      if (p.android !== undefined) ctx.addIssue({ code: "custom", path: ["android"], message: "android settings belong to kind: android profiles" });
    } else {
      if (p.android === undefined) ctx.addIssue({ code: "custom", path: ["android"], message: "missing field: a kind: android profile needs android: {adb, fastboot}" });
      for (const key of ESP32_SECTIONS) {
        if (p[key] !== undefined) ctx.addIssue({ code: "custom", path: [key], message: `${key} only applies to kind: esp32 profiles` });
      }
    }
    if (!p.virtual && p.usb.length === 0) {
      ctx.addIssue({ code: "custom", path: ["usb"], message: "a physical board needs at least one usb fingerprint {vendorId, productId}" });
    }
    const seen = new Set<string>();
    p.usb.forEach((u, i) => {
      const key = `${u.vendorId}:${u.productId}`.toLowerCase();
      if (seen.has(key)) ctx.addIssue({ code: "custom", path: ["usb", i], message: `usb fingerprint ${key} is listed twice` });
      seen.add(key);
    });
  });

export type DeviceProfile = z.infer<typeof DeviceProfileSchema>;
export type DeviceProfileInput = z.input<typeof DeviceProfileSchema>;
