import { CHIP_FACTS } from "./chips.js";
import type { Esp32ImageInfo } from "./image-reader.js";

const hex = (n: number, width = 8) => `0x${n.toString(16).padStart(width, "0")}`;

/** Human-readable report in the spirit of `esptool.py image_info`, plus what is wrong, one per line. */
export function formatImageInfo(info: Esp32ImageInfo, fileLength: number): string {
  const out: string[] = [];
  const chip = info.chip === "unknown" ? `unknown (chip id ${info.chipId})` : `${CHIP_FACTS[info.chip].display} (chip id ${info.chipId})`;
  out.push(`File size: ${fileLength} bytes; image length: ${info.imageLength} bytes`);
  out.push(`Image SHA-256: ${info.sha256}`);
  out.push("");
  out.push("Image header");
  out.push(`  Magic:          0x${info.magic.toString(16).padStart(2, "0")}${info.magic === 0xe9 ? "" : " (expected 0xe9)"}`);
  out.push(`  Segments:       ${info.segmentCount}`);
  out.push(`  Chip:           ${chip}`);
  if (info.magic === 0xe9) {
    out.push(`  Entry point:    ${hex(info.entry)}`);
    out.push(`  Flash mode:     ${info.flashMode.toUpperCase()}`);
    out.push(`  Flash freq:     ${info.flashFreq}`);
    out.push(`  Flash size:     ${info.flashSize}`);
    out.push(`  Chip revision:  v${fmtRev(info.minChipRev)} - ${info.maxChipRev === 0xffff ? "any" : `v${fmtRev(info.maxChipRev)}`}`);
    out.push(`  Hash appended:  ${info.hashAppended ? "yes" : "no"}`);
  }
  if (info.segments.length > 0) {
    out.push("");
    out.push("Segments");
    out.push("  #  Load addr   Length      File offset");
    for (const s of info.segments) {
      out.push(`  ${String(s.index).padEnd(2)} ${hex(s.address)}  ${hex(s.length)}  ${hex(s.fileOffset)}${s.address === 0 ? "  (padding)" : ""}`);
    }
  }
  if (info.checksum.calculated !== null) {
    out.push("");
    const stored = info.checksum.stored === null ? "missing" : `0x${info.checksum.stored.toString(16).padStart(2, "0")}`;
    out.push(`Checksum: ${stored} (${info.checksum.valid ? "valid" : `invalid - calculated 0x${info.checksum.calculated.toString(16).padStart(2, "0")}`})`);
  }
  if (info.hash) out.push(`Validation hash: ${info.hash.stored} (${info.hash.valid ? "valid" : `invalid - calculated ${info.hash.calculated}`})`);
  if (info.appDesc) {
    const d = info.appDesc;
    out.push("");
    out.push("Application information");
    out.push(`  Project name:   ${d.projectName}`);
    out.push(`  App version:    ${d.version}`);
    out.push(`  Compile time:   ${d.date} ${d.time}`);
    out.push(`  ELF file SHA256: ${d.elfSha256}`);
    out.push(`  ESP-IDF:        ${d.idfVersion}`);
    out.push(`  Secure version: ${d.secureVersion}`);
  }
  if (info.scenario) out.push("", `Embedded scenario: ${info.scenario.kind}${info.scenario.name ? ` (${info.scenario.name})` : ""}`);
  if (info.scenarioProblem) out.push("", `Embedded scenario: ${info.scenarioProblem}`);
  out.push("");
  if (info.ok) out.push("Image is valid.");
  else for (const p of info.problems) out.push(`ERROR: ${p}`);
  return out.join("\n") + "\n";
}

function fmtRev(rev: number): string {
  return `${Math.floor(rev / 100)}.${rev % 100}`;
}
