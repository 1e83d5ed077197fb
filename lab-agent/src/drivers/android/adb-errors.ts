// What the adb and fastboot clients print when something goes wrong, mapped to LabError codes.
// The line between lab and test: a device that is gone, offline or cut off mid-transfer is the
// lab's problem (infra, retried on another board); a package the device refuses is the test's.
import { LabError, type LabErrorCode } from "@hil/contracts";

interface Rule {
  pattern: RegExp;
  code: LabErrorCode;
  hint: string;
}

// Order matters: the first match wins. Texts are those of Debian's adb 29.0.6 (client/*.cpp).
const ADB_RULES: Rule[] = [
  { pattern: /cannot connect to daemon|daemon not running|failed to start daemon/i, code: "LINK_OPEN_FAILED", hint: "the agent's adb server is not running; it is restarted on the next attempt" },
  { pattern: /device '[^']*' not found|no devices\/emulators found/i, code: "BOARD_VANISHED", hint: "the device is no longer attached to the adb server" },
  { pattern: /device offline/i, code: "LINK_CLOSED", hint: "the device went offline" },
  { pattern: /device unauthorized/i, code: "LINK_CLOSED", hint: "the device does not accept this host's adb key" },
  { pattern: /^error: closed$|protocol fault|connection reset|broken pipe|failed to read|failed to write|unexpected EOF/im, code: "LINK_CLOSED", hint: "the connection to the device was cut" },
];

/** The adb client's own failure (not the remote command's), or undefined. */
export function adbTransportError(stderr: string, what: string): LabError | undefined {
  for (const rule of ADB_RULES) {
    if (rule.pattern.test(stderr)) return new LabError(rule.code, `${what}: ${rule.hint} (adb said: ${firstLine(stderr)})`);
  }
  return undefined;
}

/** `Failure [INSTALL_FAILED_X: detail]` → the reason, as adb install prints it. */
export function installFailureReason(output: string): string | undefined {
  const m = /Failure \[((?:INSTALL_FAILED|INSTALL_PARSE_FAILED)_[A-Z_]+[^\]]*)\]/.exec(output);
  return m?.[1];
}

export function firstLine(text: string): string {
  return text.trim().split("\n").find((l) => l.trim().length > 0)?.trim() ?? "(no output)";
}
