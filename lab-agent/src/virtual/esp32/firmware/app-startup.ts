import { idfLine, type BootClock } from "./idf-log.js";
import type { LoadedApp } from "./second-stage-bootloader.js";

/**
 * What ESP-IDF's startup code prints before app_main(): cpu_start, the Application information
 * block read from esp_app_desc_t (tag `app_init` since IDF 5, `cpu_start` before), heap regions.
 */
export function appStartupText(app: LoadedApp, clock: BootClock): string {
  const desc = app.info.appDesc;
  const major = Number.parseInt(/^v?(\d+)/.exec(desc?.idfVersion ?? "")?.[1] ?? "5", 10);
  const infoTag = major >= 5 ? "app_init" : "cpu_start";
  const lines: [string, string][] = [
    ["cpu_start", "Multicore app"],
    ["cpu_start", "Pro cpu start user code"],
    ["cpu_start", "cpu freq: 160000000 Hz"],
  ];
  if (desc) {
    lines.push(
      [infoTag, "Application information:"],
      [infoTag, `Project name:     ${desc.projectName}`],
      [infoTag, `App version:      ${desc.version}`],
      [infoTag, `Compile time:     ${desc.date} ${desc.time}`],
      [infoTag, `ELF file SHA256:  ${desc.elfSha256.slice(0, 16)}...`],
      [infoTag, `ESP-IDF:          ${desc.idfVersion}`],
    );
  }
  lines.push(
    ["efuse_init", "Min chip rev:     v0.0"],
    ["efuse_init", "Max chip rev:     v3.99 "],
    ["efuse_init", "Chip rev:         v3.0"],
    ["heap_init", "Initializing. RAM available for dynamic allocation:"],
    ["heap_init", "At 3FFAE6E0 len 00001920 (6 KiB): DRAM"],
    ["heap_init", "At 3FFB2A48 len 0002D5B8 (181 KiB): DRAM"],
    ["heap_init", "At 3FFE0440 len 00003AE0 (14 KiB): D/IRAM"],
    ["heap_init", "At 3FFE4350 len 0001BCB0 (111 KiB): D/IRAM"],
    ["heap_init", "At 4008B5B0 len 00014A50 (82 KiB): IRAM"],
    ["spi_flash", "detected chip: generic"],
    ["spi_flash", `flash io: ${app.info.flashMode}`],
  );
  return lines.map(([tag, msg]) => idfLine("I", clock.step(5), tag, msg)).join("");
}

export function appMainText(clock: BootClock): string {
  return idfLine("I", clock.step(5), "main_task", "Started on CPU0") + idfLine("I", clock.step(10), "main_task", "Calling app_main()");
}
