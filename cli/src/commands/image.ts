import { readFile, writeFile } from "node:fs/promises";
import type { Command } from "commander";
import { buildEsp32Image, buildPartitionTable, checkSignatureV2, CHIP_IDS, loadSigningKey, signImageV2, formatImageInfo, isChipName, OTA_ONLY_TABLE, partitionUsage, readEsp32Image, readPartitionTable, SINGLE_APP_TABLE, TWO_OTA_TABLE, validateImageForFlash, type ChipName, type PartitionEntryInput } from "@hil/lab-agent";
import { EXIT } from "../exit-codes.js";
import { UsageError } from "@hil/contracts";
import { scenarioWithSettings } from "./image-scenario.js";

/** `hil image partition-table --layout`: ESP-IDF's stock tables (menuconfig's "Partition Table" choices, and the OTA table the suites use). */
const LAYOUTS: Record<string, { table: PartitionEntryInput[]; about: string }> = {
  ota: { table: OTA_ONLY_TABLE, about: "nvs, otadata, phy_init, ota_0 at 0x10000, ota_1 at 0x190000 (1.5 MiB each, no factory app): what the esp32-ota-* suites flash" },
  "factory-ota": { table: TWO_OTA_TABLE, about: "ESP-IDF's partitions_two_ota.csv: nvs, otadata, phy_init, factory at 0x10000, ota_0, ota_1 (1 MiB each)" },
  "single-app": { table: SINGLE_APP_TABLE, about: "ESP-IDF's partitions_singleapp.csv: nvs, phy_init, factory at 0x10000" },
};

function parseLayout(value: string): string {
  if (!(value in LAYOUTS)) throw new UsageError(`--layout "${value}" is not a layout; use one of ${Object.keys(LAYOUTS).join(", ")}`);
  return value;
}

const collect = (value: string, previous: string[]): string[] => [...previous, value];

const CHIPS = Object.keys(CHIP_IDS).join(", ");

function parseChip(value: string): ChipName {
  if (!isChipName(value)) throw new UsageError(`unknown chip "${value}"; use one of ${CHIPS}`);
  return value;
}

function parseSize(value: string): number {
  const m = /^(0x[0-9a-f]+|\d+)([kKmM])?$/.exec(value.trim());
  if (!m?.[1]) throw new UsageError(`"${value}" is not a size (e.g. 1M, 4096, 0x100000)`);
  const n = Number(m[1]);
  const unit = m[2]?.toLowerCase();
  return unit === "k" ? n * 1024 : unit === "m" ? n * 1024 * 1024 : n;
}

async function readInput(file: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readFile(file));
  } catch (err) {
    throw new UsageError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

export function register(program: Command): void {
  const image = program.command("image").description("ESP32 app images: inspect what a .bin holds, build test images");

  image
    .command("info")
    .description("print an app image's header, segments, checksum/hash validity, app description and chip; exit 1 and say what is wrong if it is corrupt")
    .argument("<file>", "app image (.bin)")
    .option("--chip <chip>", `also check the image against a board with this chip (${CHIPS})`, parseChip)
    .option("--offset <offset>", "where the image starts in the file, e.g. 0x10000 in a whole flash dump", parseSize, 0)
    .option("--json", "print the parsed fields as JSON")
    .action(async (file: string, opts: { chip?: ChipName; json?: boolean; offset: number }) => {
      const whole = await readInput(file);
      if (opts.offset >= whole.length) throw new UsageError(`--offset 0x${opts.offset.toString(16)} is past the end of ${file} (${whole.length} bytes)`);
      const bytes = whole.subarray(opts.offset);
      const info = readEsp32Image(bytes);
      const problems = [...info.problems];
      if (opts.chip) {
        for (const p of validateImageForFlash(bytes, { chip: opts.chip, flashSize: Number.MAX_SAFE_INTEGER, offset: 0x10000 })) if (!problems.includes(p)) problems.push(p);
      }
      // a Secure Boot V2 sector after the image: said when there is one; a broken one is a problem
      const sig = info.ok ? checkSignatureV2(bytes, info.imageLength) : undefined;
      const signature = sig && sig.problem !== "no signature block" ? { valid: sig.ok, sectorOffset: sig.sectorOffset, keyDigest: sig.keyDigest ?? null, ...(sig.problem ? { problem: sig.problem } : {}) } : undefined;
      if (signature && !signature.valid) problems.push(`Secure Boot V2 signature sector at 0x${signature.sectorOffset.toString(16)}: ${signature.problem ?? "invalid"}`);
      if (opts.json) {
        process.stdout.write(`${JSON.stringify({ file, fileLength: bytes.length, ...info, ok: problems.length === 0, problems, signature: signature ?? null }, null, 2)}\n`);
      } else {
        process.stdout.write(formatImageInfo({ ...info, ok: problems.length === 0, problems }, bytes.length));
        if (signature?.valid) process.stdout.write(`signature:   Secure Boot V2 (RSA-3072 PSS) at 0x${signature.sectorOffset.toString(16)}, valid, key digest ${signature.keyDigest}\n`);
      }
      if (problems.length > 0) process.exitCode = EXIT.TEST_FAILED;
    });

  image
    .command("build")
    .description("write a valid ESP32 app image (for virtual boards and tests) with an app description and optionally an embedded scenario")
    .requiredOption("-o, --output <file>", "where to write the image")
    .option("--project <name>", "project name in esp_app_desc_t", "hil_app")
    .option("--app-version <version>", "app version in esp_app_desc_t", "1.0.0")
    .option("--idf <version>", "ESP-IDF version in esp_app_desc_t", "v5.2.1")
    .option("--chip <chip>", `target chip (${CHIPS})`, parseChip, "esp32" as ChipName)
    .option("--scenario <name|file>", "scenario the virtual firmware runs (idle, logger, console, unity, panic, hang, bootloop, ota, provisioning, or a JSON/YAML file)")
    .option("--scenario-set <key=value>", "set one field of the scenario, VALUE read as YAML (repeatable), e.g. markValid=false, companion.protocol=2", collect, [])
    .option("--pad-to <size>", "make the image exactly this long (multiple of 16), e.g. 1M", parseSize)
    .option("--no-hash", "do not append the SHA-256 validation hash")
    .action(async (opts: { output: string; project: string; appVersion: string; idf: string; chip: ChipName; scenario?: string; scenarioSet: string[]; padTo?: number; hash: boolean }) => {
      if (opts.scenarioSet.length > 0 && !opts.scenario) throw new UsageError("--scenario-set needs --scenario (e.g. --scenario ota --scenario-set markValid=false)");
      const scenario = opts.scenario ? scenarioWithSettings(opts.scenario, opts.scenarioSet) : undefined;
      let bytes: Uint8Array;
      try {
        bytes = buildEsp32Image({
          chip: opts.chip,
          appDesc: { projectName: opts.project, version: opts.appVersion, idfVersion: opts.idf },
          appendHash: opts.hash,
          ...(scenario ? { scenario } : {}),
          ...(opts.padTo !== undefined ? { padTo: opts.padTo } : {}),
        });
      } catch (err) {
        throw new UsageError((err as Error).message);
      }
      await writeFile(opts.output, bytes);
      const info = readEsp32Image(bytes);
      process.stdout.write(`wrote ${opts.output}: ${bytes.length} bytes, ${info.segmentCount} segments, ${opts.project} ${opts.appVersion} for ${opts.chip}${scenario ? `, scenario ${scenario.kind}` : ""}\nsha256 ${info.sha256}\n`);
    });

  image
    .command("sign")
    .description("sign an app image as `espsecure sign-data --version 2` does (Secure Boot V2, RSA-3072 PSS): padded to 4 KiB, then a signature sector")
    .argument("<file>", "app image (.bin)")
    .requiredOption("--key <pem>", "RSA-3072 private key in PEM (openssl genrsa -out key.pem 3072)")
    .requiredOption("-o, --output <file>", "where to write the signed image")
    .action(async (file: string, opts: { key: string; output: string }) => {
      const input = await readInput(file);
      const info = readEsp32Image(input);
      if (!info.ok) throw new UsageError(`${file} is not a valid app image: ${info.problems.join("; ")}`);
      if (checkSignatureV2(input, info.imageLength).problem !== "no signature block") throw new UsageError(`${file} already carries a signature sector`);
      let key;
      try {
        key = loadSigningKey(await readFile(opts.key));
      } catch (err) {
        throw new UsageError(`--key ${opts.key}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
      }
      const signed = signImageV2(input.subarray(0, info.imageLength), key);
      await writeFile(opts.output, signed);
      const check = checkSignatureV2(signed, info.imageLength);
      process.stdout.write(`wrote ${opts.output}: ${signed.length} bytes (image ${info.imageLength}, signature sector at 0x${check.sectorOffset.toString(16)})\nkey digest ${check.keyDigest}\n`);
    });

  image
    .command("partition-table")
    .description("write an ESP-IDF partition table binary (flash it at 0x8000), e.g. the OTA table with otadata, ota_0 and ota_1")
    .requiredOption("-o, --output <file>", "where to write the table")
    .option("--layout <layout>", `${Object.entries(LAYOUTS).map(([name, l]) => `${name}: ${l.about}`).join("; ")}`, parseLayout, "ota")
    .action(async (opts: { output: string; layout: string }) => {
      const bytes = buildPartitionTable(LAYOUTS[opts.layout]!.table);
      await writeFile(opts.output, bytes);
      const labels = readPartitionTable(bytes).entries.map((p) => `${p.label}@0x${p.offset.toString(16)}`);
      process.stdout.write(`wrote ${opts.output}: ${opts.layout} table (${labels.join(", ")}); flash it at 0x8000\n`);
    });

  image
    .command("partitions")
    .description("print an ESP-IDF partition table (partitions.bin, or a whole flash dump with --offset 0x8000); exit 1 if it is damaged")
    .argument("<file>", "partition table binary or flash dump")
    .option("--offset <offset>", "where the table starts in the file", parseSize, 0)
    .option("--json", "print the entries, the MD5 check and the problems as JSON")
    .action(async (file: string, opts: { offset: number; json?: boolean }) => {
      const bytes = await readInput(file);
      const table = readPartitionTable(bytes.subarray(opts.offset));
      if (!table.ok) process.exitCode = EXIT.TEST_FAILED;
      if (opts.json) return void process.stdout.write(`${JSON.stringify({ ...table, entries: table.entries.map((p) => ({ ...p, usage: partitionUsage(p) })) }, null, 2)}\n`);
      const hx = (n: number, w: number) => n.toString(16).padStart(w, "0");
      process.stdout.write("## Label            Usage          Type ST Offset   Length\n");
      table.entries.forEach((p, i) => {
        process.stdout.write(`${String(i).padStart(2)} ${p.label.padEnd(16)} ${partitionUsage(p).padEnd(16)} ${hx(p.type, 2)} ${hx(p.subtype, 2)} ${hx(p.offset, 8)} ${hx(p.size, 8)}\n`);
      });
      if (table.md5) process.stdout.write(`MD5: ${table.md5.stored} (${table.md5.valid ? "valid" : `invalid - calculated ${table.md5.calculated}`})\n`);
      for (const p of table.problems) process.stdout.write(`ERROR: ${p}\n`);
    });
}
