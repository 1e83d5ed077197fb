import { LabError } from "@hil/contracts";
import { parseResetSequence, type ResetOp } from "@hil/device-profiles";
import type { SerialLink } from "../../links/serial-link.js";

export type ResetMode = "run" | "download";

export interface ResetHooks {
  /** For links without modem lines: put the board in download mode another way (virtual board API, relay). */
  enterDownloadMode?: () => Promise<void>;
  /** For links without modem lines: boot the app another way. */
  enterRunMode?: () => Promise<void>;
}

/**
 * Plays a profile's reset sequence ("D0|R1|W100|D1|R0|W50|D0", W in ms) on a link's DTR/RTS.
 * Sequences are data from the profile, so a board with an odd reset circuit needs a YAML change,
 * not code. A link without modem lines falls back to the hooks.
 */
export class ResetSequencer {
  private readonly sequences: Record<ResetMode, ResetOp[]>;

  constructor(
    private readonly link: SerialLink,
    reset: { download: string; run: string },
    private readonly hooks: ResetHooks = {},
    private readonly log: (msg: string) => void = () => undefined,
  ) {
    this.sequences = { download: parse(reset.download, "download"), run: parse(reset.run, "run") };
  }

  /** True when `run(mode)` can actually do something on this link. */
  canReset(mode: ResetMode): boolean {
    return this.link.hasModemLines || (mode === "download" ? this.hooks.enterDownloadMode : this.hooks.enterRunMode) !== undefined;
  }

  /** Resolves true when a reset was performed, false when neither the lines nor a hook could do it. */
  async run(mode: ResetMode): Promise<boolean> {
    if (this.link.hasModemLines) {
      for (const op of this.sequences[mode]) {
        if (op.op === "wait") await sleep(op.ms);
        else {
          const done = await this.link.setSignals(op.op === "dtr" ? { dtr: op.value } : { rts: op.value });
          if (!done) return this.viaHook(mode); // the link found out only now that it has no lines
        }
      }
      return true;
    }
    return this.viaHook(mode);
  }

  private async viaHook(mode: ResetMode): Promise<boolean> {
    const hook = mode === "download" ? this.hooks.enterDownloadMode : this.hooks.enterRunMode;
    if (hook) {
      await hook();
      return true;
    }
    this.log(`${this.link.path} has no DTR/RTS and no ${mode === "download" ? "enterDownloadMode" : "enterRunMode"} hook: the board was not reset`);
    return false;
  }
}

function parse(sequence: string, which: string): ResetOp[] {
  try {
    return parseResetSequence(sequence);
  } catch (err) {
    throw new LabError("PROFILE_INVALID", `the profile's reset.${which} sequence is invalid: ${(err as Error).message}`, { cause: err });
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
