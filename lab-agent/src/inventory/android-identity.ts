import { setTimeout as delay } from "node:timers/promises";
import { LabError, type Board } from "@hil/contracts";
import type { AndroidProfile } from "@hil/device-profiles";
import { androidPropertiesFrom, parseGetprop, type AndroidProperties } from "../discovery/android-match.js";
import type { AdbClient } from "../drivers/android/adb-client.js";

/** `getprop`, a few tries: a device just attached may still be starting adbd's services. */
export async function readAndroidProperties(adb: Pick<AdbClient, "shell" | "serial">): Promise<AndroidProperties> {
  let last: Error | undefined;
  for (let attempt = 0; attempt < 3; attempt++) {
    if (attempt > 0) await delay(1000);
    try {
      const r = await adb.shell("getprop", { timeoutMs: 10_000 });
      const props = androidPropertiesFrom(parseGetprop(r.stdout));
      if (props.model !== "") return props;
      // adb 29 exits 0 with nothing when the transport drops mid-command
      last = new LabError("LINK_CLOSED", `getprop on ${adb.serial} gave no ro.product.model (the connection dropped?)`);
    } catch (err) {
      last = err as Error;
    }
  }
  throw last ?? new LabError("LINK_CLOSED", `getprop on ${adb.serial} failed`);
}

/** A matched device as a board: identified by its adb serial, ro.serialno, model and product. */
export function androidBoard(d: { id: string; agent: string; serial: string; profile: AndroidProfile; props: AndroidProperties; virtual: boolean }): Board {
  return {
    id: d.id,
    profile: d.profile.id,
    agent: d.agent,
    identity: {
      adbSerial: d.serial,
      ...(d.props.serialno ? { serialNumber: d.props.serialno } : {}),
      ...(d.props.model ? { model: d.props.model } : {}),
      ...(d.props.product ? { product: d.props.product } : {}),
    },
    state: "idle",
    labels: { ...d.profile.labels },
    endpoint: `adb:${d.serial}`,
    virtual: d.virtual || d.profile.virtual,
    health: 100,
    updatedAt: Date.now(),
  };
}

/** What differs between a board's registered identity and what its serial answers now, or undefined. */
export function identityDiff(board: Board, props: AndroidProperties): string | undefined {
  const was = board.identity;
  const diffs: string[] = [];
  if (was.serialNumber !== undefined && was.serialNumber !== props.serialno) diffs.push(`serial "${props.serialno}" (was "${was.serialNumber}")`);
  if (was.model !== undefined && was.model !== props.model) diffs.push(`model "${props.model}" (was "${was.model}")`);
  if (was.product !== undefined && was.product !== props.product) diffs.push(`product "${props.product}" (was "${was.product}")`);
  return diffs.length > 0 ? diffs.join(", ") : undefined;
}
