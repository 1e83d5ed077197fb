import type { ResetReason } from "./firmware/index.js";

export type { ResetReason };

/** ESP32 RESET_REASON values the ROM prints after `rst:` (PROTOCOLS.md §D.1). */
export const RESET_REASONS = {
  POWERON_RESET: { code: 0x1, name: "POWERON_RESET" },
  SW_RESET: { code: 0x3, name: "SW_RESET" },
  OWDT_RESET: { code: 0x4, name: "OWDT_RESET" },
  DEEPSLEEP_RESET: { code: 0x5, name: "DEEPSLEEP_RESET" },
  SDIO_RESET: { code: 0x6, name: "SDIO_RESET" },
  TG0WDT_SYS_RESET: { code: 0x7, name: "TG0WDT_SYS_RESET" },
  TG1WDT_SYS_RESET: { code: 0x8, name: "TG1WDT_SYS_RESET" },
  RTCWDT_SYS_RESET: { code: 0x9, name: "RTCWDT_SYS_RESET" },
  INTRUSION_RESET: { code: 0xa, name: "INTRUSION_RESET" },
  TGWDT_CPU_RESET: { code: 0xb, name: "TGWDT_CPU_RESET" },
  SW_CPU_RESET: { code: 0xc, name: "SW_CPU_RESET" },
  RTCWDT_CPU_RESET: { code: 0xd, name: "RTCWDT_CPU_RESET" },
  EXT_CPU_RESET: { code: 0xe, name: "EXT_CPU_RESET" },
  RTCWDT_BROWN_OUT_RESET: { code: 0xf, name: "RTCWDT_BROWN_OUT_RESET" },
  RTCWDT_RTC_RESET: { code: 0x10, name: "RTCWDT_RTC_RESET" },
} as const satisfies Record<string, ResetReason>;

const ROM_DATE_LINE = "ets Jun  8 2016 00:22:57";

/** What the ROM prints on reset, CRLF line endings as on the wire. */
export function romBanner(reason: ResetReason, download: boolean): string {
  const boot = download ? "boot:0x3 (DOWNLOAD_BOOT(UART0/UART1/SDIO_REI_REO_V2))" : "boot:0x13 (SPI_FAST_FLASH_BOOT)";
  const head = `${ROM_DATE_LINE}\r\n\r\nrst:0x${reason.code.toString(16)} (${reason.name}),${boot}\r\n`;
  return download ? `${head}waiting for download\r\n` : head;
}
