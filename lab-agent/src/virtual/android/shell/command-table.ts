import { am, cmd } from "./am-command.js";
import { BASIC_COMMANDS } from "./basic-commands.js";
import { logcat } from "./logcat-command.js";
import { pm } from "./pm-command.js";
import type { ShellCommand } from "./shell-types.js";

/** Every command the virtual device's `/system/bin/sh` finds; anything else exits 127. */
export const ANDROID_COMMANDS: ReadonlyMap<string, ShellCommand> = new Map<string, ShellCommand>([
  ...BASIC_COMMANDS,
  ["pm", pm],
  ["am", am],
  ["cmd", cmd],
  ["logcat", logcat],
]);
