import { crlf } from "./idf-log.js";
import type { PanicDetails } from "./scenario-spec.js";

/** Xtensa EXCCAUSE values for the reasons panic.c names (what the register dump shows). */
const EXCCAUSE: Record<string, number> = {
  IllegalInstruction: 0x00,
  InstructionFetchError: 0x02,
  LoadStoreError: 0x03,
  IntegerDivideByZero: 0x06,
  LoadStoreAlignment: 0x09,
  InstrFetchProhibited: 0x14,
  LoadProhibited: 0x1c,
  StoreProhibited: 0x1d,
};

const word = (n: number) => `0x${(n >>> 0).toString(16).padStart(8, "0")}`;

/**
 * The Xtensa panic handler's output (esp_system/panic.c): headline, register dump, backtrace,
 * ELF SHA256 and `Rebooting...`. The core number is padded to two columns like panic_print_dec.
 */
export function panicText(p: PanicDetails, elfSha256: string): string {
  const core = String(p.core).padStart(2, " ");
  const cause = EXCCAUSE[p.reason] ?? 0x1c;
  const regs: [string, number][] = [
    ["PC", 0x400d15f1],
    ["PS", 0x00060b30],
    ["A0", 0x800d5dbe],
    ["A1", 0x3ffb5020],
    ["A2", 0x00000000],
    ["A3", 0x3f4012c0],
    ["A4", 0x3ffb2a88],
    ["A5", 0x00000000],
    ["A6", 0x00000001],
    ["A7", 0x00000000],
    ["A8", 0x800d15f1],
    ["A9", 0x3ffb5000],
    ["A10", 0x00000000],
    ["A11", 0x00000000],
    ["A12", 0x00000000],
    ["A13", 0x00000000],
    ["A14", 0x00000000],
    ["A15", 0x00000000],
    ["SAR", 0x00000004],
    ["EXCCAUSE", cause],
    ["EXCVADDR", cause === 0x1c || cause === 0x1d ? 0x00000000 : 0x400d15f1],
    ["LBEG", 0x400014fd],
    ["LEND", 0x4000150d],
    ["LCOUNT", 0xffffffff],
  ];
  const rows: string[] = [];
  for (let i = 0; i < regs.length; i += 4) {
    rows.push(
      regs
        .slice(i, i + 4)
        .map(([name, value]) => `${name.padEnd(8)}: ${word(value)}  `)
        .join(""),
    );
  }
  return crlf(
    [
      `Guru Meditation Error: Core ${core} panic'ed (${p.reason}). ${p.description}`,
      "",
      `Core ${core} register dump:`,
      ...rows,
      "",
      "",
      "Backtrace: 0x400d15ee:0x3ffb5020 0x400d5dbb:0x3ffb5040 0x40088d55:0x3ffb5060",
      ...rebootTail(elfSha256),
    ].join("\n"),
  );
}

/** `abort()` prints one line and a backtrace, no register dump. */
export function abortText(elfSha256: string): string {
  return crlf(
    [
      "",
      "abort() was called at PC 0x400d2138 on core 0",
      "",
      "",
      "Backtrace: 0x40081a2e:0x3ffb4f70 0x4008a1d1:0x3ffb4f90 0x4008fb1e:0x3ffb4fb0 0x400d2138:0x3ffb5020",
      ...rebootTail(elfSha256),
    ].join("\n"),
  );
}

/** What every fatal error prints after its backtrace: the ELF hash (first 16 hex digits) and the reboot. */
function rebootTail(elfSha256: string): string[] {
  const sha = (elfSha256 || "0".repeat(64)).slice(0, 16);
  return ["", "", "", "", `ELF file SHA256: ${sha}`, "", "Rebooting...", ""];
}
