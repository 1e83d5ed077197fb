/**
 * Image chip ids (header offset 12) as esptool's targets define IMAGE_CHIP_ID, and the facts the
 * writer needs per chip. The bootloader refuses an image whose id differs from the chip it runs on.
 */
export const CHIP_IDS = {
  esp32: 0,
  esp32s2: 2,
  esp32c3: 5,
  esp32s3: 9,
  esp32c2: 12,
  esp32c6: 13,
  esp32h2: 16,
  esp32p4: 18,
  esp32c5: 23,
} as const;

export type ChipName = keyof typeof CHIP_IDS;

interface ChipFacts {
  /** As esptool and the ROM spell it. */
  display: string;
  /** Start of the flash-mapped data (DROM) window: where esp_app_desc_t lives. */
  dromBase: number;
  /** Internal data RAM and instruction RAM addresses a small test image can use. */
  dram: number;
  iram: number;
}

export const CHIP_FACTS: Record<ChipName, ChipFacts> = {
  esp32: { display: "ESP32", dromBase: 0x3f400000, dram: 0x3ffb0000, iram: 0x40080000 },
  esp32s2: { display: "ESP32-S2", dromBase: 0x3f000000, dram: 0x3ffbe000, iram: 0x40022000 },
  esp32c3: { display: "ESP32-C3", dromBase: 0x3c000000, dram: 0x3fc80000, iram: 0x40380000 },
  esp32s3: { display: "ESP32-S3", dromBase: 0x3c000000, dram: 0x3fc88000, iram: 0x40374000 },
  esp32c2: { display: "ESP32-C2", dromBase: 0x3c000000, dram: 0x3fca0000, iram: 0x40380000 },
  esp32c6: { display: "ESP32-C6", dromBase: 0x42800000, dram: 0x40800000, iram: 0x40800000 },
  esp32h2: { display: "ESP32-H2", dromBase: 0x42800000, dram: 0x40800000, iram: 0x40800000 },
  esp32p4: { display: "ESP32-P4", dromBase: 0x40000000, dram: 0x4ff00000, iram: 0x4ff00000 },
  esp32c5: { display: "ESP32-C5", dromBase: 0x42000000, dram: 0x40800000, iram: 0x40800000 },
};

export function chipById(id: number): ChipName | "unknown" {
  for (const [name, value] of Object.entries(CHIP_IDS)) if (value === id) return name as ChipName;
  return "unknown";
}

export function chipDisplayName(chip: ChipName | "unknown", id?: number): string {
  if (chip === "unknown") return id === undefined ? "an unknown chip" : `an unknown chip (chip id ${id})`;
  return CHIP_FACTS[chip].display;
}

export function isChipName(value: string): value is ChipName {
  return Object.hasOwn(CHIP_IDS, value);
}

/** Header byte 2. */
export const FLASH_MODES = ["qio", "qout", "dio", "dout"] as const;
export type FlashMode = (typeof FLASH_MODES)[number];

/** Low nibble of header byte 3. */
export const FLASH_FREQS = { "40m": 0x0, "26m": 0x1, "20m": 0x2, "80m": 0xf } as const;
export type FlashFreq = keyof typeof FLASH_FREQS;

/** High nibble of header byte 3. */
export const FLASH_SIZES = { "1MB": 0, "2MB": 1, "4MB": 2, "8MB": 3, "16MB": 4, "32MB": 5, "64MB": 6, "128MB": 7 } as const;
export type FlashSizeName = keyof typeof FLASH_SIZES;

export function flashSizeBytes(size: FlashSizeName): number {
  return (1 << FLASH_SIZES[size]) * 1024 * 1024;
}

export function nameOfCode<K extends string>(table: Record<K, number>, code: number): K | undefined {
  for (const [name, value] of Object.entries(table) as [K, number][]) if (value === code) return name;
  return undefined;
}
