// One OTA update as ESP-IDF's native OTA example runs it: esp_ota_get_next_update_partition,
// esp_ota_begin (erases the slot), esp_ota_write per received chunk (first chunk: magic byte and
// the new esp_app_desc_t), esp_ota_end (full image verification) and esp_ota_set_boot_partition
// (otadata: next seq, state NEW). Anything that goes wrong before set_boot_partition leaves otadata
// and the running slot as they were.
import { get, type ClientRequest, type IncomingMessage } from "node:http";
import { APP_DESC_SIZE, decodeAppDesc } from "../../../../esp32-image/app-desc.js";
import { HEADER_SIZE, SEGMENT_HEADER_SIZE } from "../../../../esp32-image/layout.js";
import { OTADATA_SECTOR, OTADATA_SIZE, OTA_STATES, encodeOtaSelectEntry, nextOtaSelect, readOtadata } from "../../../../esp32-image/otadata.js";
import type { PartitionEntry } from "../../../../esp32-image/partition-table.js";
import type { ScenarioEnv } from "../firmware-context.js";
import { bootStateOf } from "../ota-boot-select.js";
import { readEsp32Image } from "../../../../esp32-image/image-reader.js";
import { checkSignatureV2, SIG_SECTOR_SIZE } from "../../../../esp32-image/secure-boot-v2.js";
import { verifyApp } from "../second-stage-bootloader.js";

export interface OtaUpdateOptions {
  url: string;
  tag: string;
  receiveTimeoutMs: number;
  /** The new image must be signed by a key of the running app's (CONFIG_SECURE_SIGNED_ON_UPDATE_NO_SECURE_BOOT). */
  signedUpdates?: boolean;
}

const hex8 = (n: number) => `0x${n.toString(16).padStart(8, "0")}`;
const FIRST_CHUNK = HEADER_SIZE + SEGMENT_HEADER_SIZE + APP_DESC_SIZE;

/** The slot after the running one (from factory: ota_0), as esp_ota_get_next_update_partition picks it. */
export function nextUpdatePartition(table: readonly PartitionEntry[], running: PartitionEntry | undefined): PartitionEntry | undefined {
  const state = bootStateOf(table);
  if (state.otaCount === 0) return undefined;
  const isOta = running !== undefined && running.type === 0 && (running.subtype & 0xf0) === 0x10;
  const slot = isOta ? ((running.subtype & 0x0f) + 1) % state.otaCount : 0;
  return state.ota[slot];
}

/**
 * Downloads `url` into the next slot. `done(true)` after otadata points at it (the caller restarts),
 * `done(false)` after an error line; a reset in between (timers cleared) ends it silently.
 */
export function runOtaUpdate(env: ScenarioEnv, opts: OtaUpdateOptions, done: (ok: boolean) => void): void {
  const { tag } = opts;
  const state = bootStateOf(env.table);
  const target = nextUpdatePartition(env.table, env.partition);
  const running = env.partition;
  let settled = false;
  let request: ClientRequest | undefined;
  const finish = (ok: boolean) => {
    if (settled) return;
    settled = true;
    removeCleanup();
    request?.destroy();
    if (!env.timers.isStopped) done(ok);
  };
  const fail = (message: string) => {
    if (settled || env.timers.isStopped) return;
    env.log("E", tag, message);
    env.log("E", tag, `OTA failed: ${running?.label ?? "the running app"} keeps running, otadata unchanged`);
    finish(false);
  };
  // A reset mid-download: the chip stops, the connection dies with it.
  const removeCleanup = env.timers.onClear(() => {
    settled = true;
    request?.destroy();
  });

  if (running) env.log("I", tag, `Running partition type ${running.type} subtype ${running.subtype} (offset ${hex8(running.offset)})`);
  if (!target || !state.otaInfo) {
    fail("esp_ota_get_next_update_partition: the partition table has no OTA app slots and otadata (flash an OTA partition table)");
    return;
  }
  if (!/^http:\/\//i.test(opts.url)) {
    fail(`HTTP client: unsupported URL ${JSON.stringify(opts.url)} (expected http://host:port/path)`);
    return;
  }
  env.log("I", tag, `Writing to partition subtype ${target.subtype} at offset 0x${target.offset.toString(16)}`);

  let written = 0;
  let began = false;
  let head: Uint8Array = new Uint8Array(0);
  const onBody = (res: IncomingMessage) => {
    const total = Number(res.headers["content-length"] ?? Number.NaN);
    res.on("data", (chunk: Buffer) => {
      if (settled || env.timers.isStopped) return;
      if (!began) {
        head = concatBytes(head, chunk);
        if (head.length < FIRST_CHUNK && (Number.isNaN(total) || head.length < total)) return;
        if (head[0] !== 0xe9) {
          env.log("E", "esp_ota_ops", `OTA image has invalid magic byte (expected 0xE9, saw 0x${(head[0] ?? 0).toString(16).padStart(2, "0")})`);
          fail("esp_ota_write failed (ESP_ERR_OTA_VALIDATE_FAILED)");
          return;
        }
        const desc = decodeAppDesc(head.subarray(HEADER_SIZE + SEGMENT_HEADER_SIZE, FIRST_CHUNK));
        if (desc) env.log("I", tag, `New firmware version: ${desc.version}`);
        env.log("I", tag, `Running firmware version: ${env.app.version}`);
        if (!Number.isNaN(total) && total > target.size) {
          fail(`esp_ota_begin failed: the image (${total} bytes) is larger than ${target.label} (${target.size} bytes)`);
          return;
        }
        // esp_ota_begin(OTA_SIZE_UNKNOWN) erases the whole slot before the first write.
        env.flash.eraseRange(target.offset, target.size);
        began = true;
        chunk = Buffer.from(head);
      }
      if (written + chunk.length > target.size) {
        fail(`esp_ota_write failed: more than ${target.size} bytes for ${target.label}`);
        return;
      }
      env.flash.program(target.offset + written, chunk);
      written += chunk.length;
    });
    // The server dropped the link mid-body: Node reports "aborted" (error) and/or an incomplete close.
    const cut = () => fail(`Error: connection closed after ${written || head.length} of ${Number.isNaN(total) ? "?" : total} bytes`);
    res.on("end", () => {
      if (settled || env.timers.isStopped) return;
      if (!began || (!Number.isNaN(total) && written < total) || !res.complete) {
        cut();
        return;
      }
      env.log("I", tag, `Total Write binary data length: ${written}`);
      complete();
    });
    res.on("close", () => {
      if (!res.complete) cut();
    });
    res.on("error", cut);
  };

  const complete = () => {
    // esp_ota_end: the same verification the bootloader runs, with the same lines.
    const app = verifyApp(env.flash.bytes, target, (level, t, message) => env.log(level, t, message));
    if (!app || (opts.signedUpdates && !signatureAccepted(env, app.info.imageLength, target))) {
      fail("Image validation failed, image is corrupted");
      return;
    }
    // esp_ota_set_boot_partition: the next seq for this slot, into the sector that is not active.
    const info = state.otaInfo!;
    const entries = readOtadata(env.flash.bytes.subarray(info.offset, info.offset + OTADATA_SIZE));
    const next = nextOtaSelect(entries, target.subtype & 0x0f, state.otaCount);
    const at = info.offset + next.index * OTADATA_SECTOR;
    const ok = env.flash.eraseRange(at, OTADATA_SECTOR) && env.flash.program(at, encodeOtaSelectEntry({ seq: next.seq, state: OTA_STATES.NEW, label: entries[next.index].label }));
    if (!ok) {
      fail("esp_ota_set_boot_partition failed (ESP_ERR_FLASH_OP_FAIL)");
      return;
    }
    env.log("I", tag, "Prepare to restart system!");
    finish(true);
  };

  try {
    request = get(opts.url, (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        fail(`HTTP GET ${opts.url} failed: status ${res.statusCode ?? "?"}`);
        return;
      }
      onBody(res);
    });
  } catch (err) {
    fail(`HTTP client: ${(err as Error).message}`);
    return;
  }
  request.setTimeout(opts.receiveTimeoutMs, () => request?.destroy(new Error(`no data for ${opts.receiveTimeoutMs} ms`)));
  request.on("error", (err) => fail(`HTTP connection failed: ${err.message}`));
}

/**
 * esp_image_verify's signature check on update without hardware secure boot: the keys trusted are those of
 * the running app's valid signature blocks; the new image's block must verify under one of them. The lines
 * are ESP-IDF's (esp_image, secure_boot_v2, secure_boot_v2_rsa).
 */
function signatureAccepted(env: ScenarioEnv, imageLength: number, target: PartitionEntry): boolean {
  const log = (level: "I" | "W" | "E", tag: string, message: string) => env.log(level, tag, message);
  log("I", "esp_image", "Verifying image signature...");
  const running = env.partition;
  const runningImage = running ? env.flash.bytes.subarray(running.offset, running.offset + running.size) : undefined;
  const own = runningImage ? checkSignatureV2(runningImage, readEsp32Image(runningImage).imageLength) : undefined;
  log("I", "secure_boot_v2", "Take trusted digest key(s) from running app");
  const refused = (why: "bad" | "corrupt") => {
    log("E", "esp_image", "Secure boot signature verification failed");
    log("I", "esp_image", "Calculating simple hash to check for corruption...");
    log("W", "esp_image", why === "corrupt" ? "image corrupted on flash" : "image valid, signature bad");
    return false;
  };
  if (!own?.ok || own.keyDigest === undefined) {
    log("E", "secure_boot_v2", "No signatures were found for the running app");
    return refused("bad");
  }
  const slot = env.flash.bytes.subarray(target.offset, target.offset + target.size);
  const check = checkSignatureV2(slot, imageLength, [own.keyDigest]);
  if (check.sectorOffset + SIG_SECTOR_SIZE > target.size) {
    log("E", "esp_image", `Image length ${check.sectorOffset + SIG_SECTOR_SIZE} doesn't fit in partition length ${target.size}`);
    return refused("bad");
  }
  if (check.problem === "key not trusted" || check.problem === "no signature block" || check.problem === "bad magic" || check.problem === "bad CRC") return refused("bad");
  log("I", "secure_boot_v2", "#0 app key digest == #0 trusted key digest");
  log("I", "secure_boot_v2", "Verifying with RSA-PSS...");
  if (!check.ok) {
    if (check.problem === "signature invalid") log("E", "secure_boot_v2_rsa", "Failed mbedtls_rsa_rsassa_pss_verify, err: -17280");
    return refused("bad");
  }
  log("I", "secure_boot_v2_rsa", "Signature verified successfully!");
  return true;
}

function concatBytes(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
