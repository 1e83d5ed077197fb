/**
 * The handful of ESP32 registers esptool clients read or write (PROTOCOLS.md §A.10). Everything else
 * is plain storage that reads back 0 until written, which is what the clients tolerate.
 */

export const REG = {
  CHIP_DETECT_MAGIC: 0x40001000,
  EFUSE_RD_BASE: 0x3ff5a000,
  APB_CTL_DATE: 0x3ff6607c,
  UART_CLKDIV: 0x3ff40014,
  UART_DATE: 0x60000078,
  SPI_BASE: 0x3ff42000,
} as const;

export const ESP32_MAGIC = 0x00f01d83;

const SPI_CMD = REG.SPI_BASE + 0x00;
const SPI_USR2 = REG.SPI_BASE + 0x24;
const SPI_W0 = REG.SPI_BASE + 0x80;
const SPI_CMD_USR = 1 << 18;

const SPIFLASH_RDID = 0x9f;

/** ESP32-D0WD revision 2, dual core, 240 MHz, BT on (the combination observed to decode cleanly). */
const EFUSE_WORD3 = 0x0000a200;
const EFUSE_WORD5 = 0x00100000;
/** 40 MHz crystal at 115200 baud: 115200 × 347 / 1e6 ≈ 40. */
const UART_CLKDIV_40MHZ = 347;

/** Parses `aa:bb:cc:dd:ee:ff` (or with dashes) into six bytes. */
export function parseMac(mac: string): Uint8Array {
  const parts = mac.split(/[:-]/);
  if (parts.length !== 6 || parts.some((p) => !/^[0-9a-fA-F]{2}$/.test(p))) {
    throw new Error(`"${mac}" is not a MAC address; write it as six hex pairs, e.g. a0:b0:11:22:33:44`);
  }
  return Uint8Array.from(parts.map((p) => parseInt(p, 16)));
}

export function formatMac(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join(":");
}

/** JEDEC id the way the RDID command returns it: manufacturer | device << 8 | capacity << 16. */
export function flashIdFor(flashSize: number): number {
  const capacity = Math.round(Math.log2(flashSize));
  // Winbond W25Q-style part: manufacturer 0xEF, memory type 0x40, capacity code = log2(bytes).
  return (0xef | (0x40 << 8) | (capacity << 16)) >>> 0;
}

export class RegisterMap {
  private readonly values = new Map<number, number>();

  constructor(mac: Uint8Array, private readonly flashId: number) {
    const [m0 = 0, m1 = 0, m2 = 0, m3 = 0, m4 = 0, m5 = 0] = mac;
    this.values.set(REG.CHIP_DETECT_MAGIC, ESP32_MAGIC);
    this.values.set(REG.EFUSE_RD_BASE + 4 * 1, ((m2 << 24) | (m3 << 16) | (m4 << 8) | m5) >>> 0);
    this.values.set(REG.EFUSE_RD_BASE + 4 * 2, ((crc8(mac) << 16) | (m0 << 8) | m1) >>> 0);
    this.values.set(REG.EFUSE_RD_BASE + 4 * 3, EFUSE_WORD3);
    this.values.set(REG.EFUSE_RD_BASE + 4 * 5, EFUSE_WORD5);
    this.values.set(REG.APB_CTL_DATE, 0x16042000);
    this.values.set(REG.UART_CLKDIV, UART_CLKDIV_40MHZ);
  }

  read(addr: number): number {
    return this.values.get(addr >>> 0) ?? 0;
  }

  write(addr: number, value: number, mask = 0xffffffff): void {
    const a = addr >>> 0;
    const merged = ((this.read(a) & ~mask) | (value & mask)) >>> 0;
    // Read-only areas (eFuse, chip magic) ignore writes, as on silicon.
    if (a === REG.CHIP_DETECT_MAGIC || (a >= REG.EFUSE_RD_BASE && a < REG.EFUSE_RD_BASE + 0x100)) return;
    this.values.set(a, merged);
    if (a === SPI_CMD && (merged & SPI_CMD_USR) !== 0) this.runSpiUserCommand();
  }

  /** Emulates the SPI0 "user command" engine: the command byte sits in USR2[7:0], results land in W0. */
  private runSpiUserCommand(): void {
    const command = this.read(SPI_USR2) & 0xff;
    const result = command === SPIFLASH_RDID ? this.flashId : 0;
    this.values.set(SPI_W0, result >>> 0);
    this.values.set(SPI_CMD, this.read(SPI_CMD) & ~SPI_CMD_USR);
  }
}

/** CRC-8 (poly 0x07 reflected as Dallas/Maxim 0x8C) the eFuse block keeps beside the MAC. */
function crc8(mac: Uint8Array): number {
  let crc = 0;
  for (const byte of mac) {
    let b = byte;
    for (let i = 0; i < 8; i++) {
      const mix = (crc ^ b) & 1;
      crc >>= 1;
      if (mix) crc ^= 0x8c;
      b >>= 1;
    }
  }
  return crc;
}
