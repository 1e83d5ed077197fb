import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { ScenarioSpecInput } from "../virtual/esp32/firmware/scenario-spec.js";
import type { ChipName, FlashFreq, FlashMode, FlashSizeName } from "./chips.js";
import { buildEsp32Image } from "./image-writer.js";
import { OTADATA_SIZE } from "./otadata.js";
import { OTA_ONLY_TABLE, buildPartitionTable } from "./partition-table.js";

export interface IdfBuildDirOptions {
  project?: string;
  version?: string;
  chip?: ChipName;
  /** Where the build's partition table puts the factory app (and so where the app is written). */
  appOffset?: number;
  scenario?: ScenarioSpecInput;
  /** What flasher_args.json says (the project's sdkconfig). */
  flash?: { mode: FlashMode; size: FlashSizeName; freq: FlashFreq };
  /**
   * An OTA project (docs/ota.md): the partition table has otadata, ota_0 (0x10000, where the app goes) and ota_1,
   * and the build has ota_data_initial.bin (erased otadata) at 0xd000, as idf.py writes it.
   */
  ota?: boolean;
  /** What the bootloader's own header says before the lab writes it (default: the same as `flash`). */
  bootloaderHeader?: { mode: FlashMode; size: FlashSizeName; freq: FlashFreq };
}

/**
 * Writes a directory shaped like an ESP-IDF `build/` (bootloader/bootloader.bin,
 * partition_table/partition-table.bin, <project>.bin and flasher_args.json) for virtual boards and
 * tests, the way buildEsp32Image stands in for one app image. The images are synthetic; the layout
 * and flasher_args.json follow what idf.py writes.
 */
export async function writeIdfBuildDir(dir: string, opts: IdfBuildDirOptions = {}): Promise<{ bootloader: Uint8Array; partitionTable: Uint8Array; app: Uint8Array }> {
  const project = opts.project ?? "hil_build_app";
  const chip = opts.chip ?? "esp32";
  const appOffset = opts.ota ? 0x10000 : (opts.appOffset ?? 0x10000);
  const flash = opts.flash ?? { mode: "dio", size: "4MB", freq: "40m" };
  const header = opts.bootloaderHeader ?? flash;
  const bootloaderOffset = chip === "esp32" || chip === "esp32s2" ? 0x1000 : 0x0;
  await mkdir(join(dir, "bootloader"), { recursive: true });
  await mkdir(join(dir, "partition_table"), { recursive: true });
  const bootloader = buildEsp32Image({ chip, appDesc: null, flashMode: header.mode, flashSize: header.size, flashFreq: header.freq });
  const partitionTable = buildPartitionTable(
    opts.ota
      ? OTA_ONLY_TABLE
      : [
          { label: "nvs", type: "data", subtype: "nvs", offset: 0x9000, size: 0x6000 },
          { label: "phy_init", type: "data", subtype: "phy", offset: 0xf000, size: 0x1000 },
          { label: "factory", type: "app", subtype: "factory", offset: appOffset, size: 0x100000 },
        ],
  );
  const app = buildEsp32Image({ chip, appDesc: { projectName: project, version: opts.version ?? "1.0.0" }, ...(opts.scenario ? { scenario: opts.scenario } : {}) });
  await writeFile(join(dir, "bootloader", "bootloader.bin"), bootloader);
  await writeFile(join(dir, "partition_table", "partition-table.bin"), partitionTable);
  await writeFile(join(dir, `${project}.bin`), app);
  const hex = (n: number) => `0x${n.toString(16)}`;
  const otadata = OTA_ONLY_TABLE.find((p) => p.subtype === "ota")?.offset ?? 0xd000;
  if (opts.ota) await writeFile(join(dir, "ota_data_initial.bin"), new Uint8Array(OTADATA_SIZE).fill(0xff));
  const args = {
    write_flash_args: ["--flash_mode", flash.mode, "--flash_size", flash.size, "--flash_freq", flash.freq],
    flash_settings: { flash_mode: flash.mode, flash_size: flash.size, flash_freq: flash.freq },
    flash_files: {
      [hex(bootloaderOffset)]: "bootloader/bootloader.bin",
      [hex(appOffset)]: `${project}.bin`,
      "0x8000": "partition_table/partition-table.bin",
      ...(opts.ota ? { [hex(otadata)]: "ota_data_initial.bin" } : {}),
    },
    bootloader: { offset: hex(bootloaderOffset), file: "bootloader/bootloader.bin", encrypted: "false" },
    app: { offset: hex(appOffset), file: `${project}.bin`, encrypted: "false" },
    "partition-table": { offset: "0x8000", file: "partition_table/partition-table.bin", encrypted: "false" },
    ...(opts.ota ? { otadata: { offset: hex(otadata), file: "ota_data_initial.bin", encrypted: "false" } } : {}),
    extra_esptool_args: { after: "hard_reset", before: "default_reset", stub: true, chip },
  };
  await writeFile(join(dir, "flasher_args.json"), JSON.stringify(args, null, 4));
  return { bootloader, partitionTable, app };
}
