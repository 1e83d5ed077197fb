import { crlf } from "../idf-log.js";
import { SW_CPU_RESET, type ScenarioEnv, type ScenarioRunner } from "../firmware-context.js";
import type { ScenarioSpec } from "../scenario-spec.js";

type ConsoleSpec = Pick<Extract<ScenarioSpec, { kind: "console" }>, "prompt" | "commands">;

/** A command implemented by the app (e.g. `ota <url>`); it calls `finish` when the prompt may come back. */
export interface ConsoleCommand {
  usage: string;
  help: string;
  run(args: string[], finish: () => void): void;
}

const BUILTIN_HELP: [string, string][] = [
  ["help ", "Print the list of registered commands"],
  ["version ", "Get version of chip and SDK"],
  ["echo  <text>", "Print the text back"],
  ["mac ", "Print the station MAC address"],
  ["restart ", "Software reset of the chip"],
];

/**
 * An esp_console REPL: linenoise echoes what is typed, a line ends at CR or LF, and the prompt
 * comes back after each command.
 */
export function startConsole(spec: ConsoleSpec, env: ScenarioEnv, handlers: Record<string, ConsoleCommand> = {}): ScenarioRunner {
  let line = "";
  let lastWasCr = false;
  let restarting = false;
  // A command still running (a download): the REPL task is blocked in it; typed bytes are lost.
  let busy = false;

  env.print(crlf("\nType 'help' to get the list of commands.\nUse UP/DOWN arrows to navigate through command history.\nPress TAB when typing command name to auto-complete.\n"));
  env.print(spec.prompt);

  const run = (cmdline: string) => {
    const trimmed = cmdline.trim();
    const [name = "", ...args] = trimmed.split(/\s+/);
    if (trimmed === "") return;
    const handler = handlers[name];
    if (handler !== undefined) {
      busy = true;
      handler.run(args, () => {
        busy = false;
        env.print(spec.prompt);
      });
      return;
    }
    const custom = spec.commands[name];
    if (custom !== undefined) {
      env.print(crlf(custom.endsWith("\n") ? custom : `${custom}\n`));
      return;
    }
    switch (name) {
      case "help": {
        const entries = [
          ...BUILTIN_HELP,
          ...Object.values(handlers).map((h): [string, string] => [h.usage, h.help]),
          ...Object.keys(spec.commands).map((c): [string, string] => [`${c} `, "Scenario command"]),
        ];
        env.print(crlf(entries.map(([usage, desc]) => `${usage}\n  ${desc}\n`).join("\n")));
        return;
      }
      case "version":
        env.print(crlf(`IDF Version:${env.app.idfVersion}\nChip info:\n\tmodel:ESP32\n\tcores:2\n\tfeature:/802.11bgn/BLE/BT/External-Flash:4 MB\n\trevision number:3\nApp: ${env.app.projectName} ${env.app.version}\n`));
        return;
      case "echo":
        env.print(crlf(`${args.join(" ")}\n`));
        return;
      case "mac":
        env.print(crlf(`${env.mac}\n`));
        return;
      case "restart":
        restarting = true;
        env.log("I", "cmd_system_common", "Restarting");
        env.timers.after(20, () => env.reboot(SW_CPU_RESET));
        return;
      default:
        env.print(crlf("Unrecognized command\n"));
    }
  };

  return {
    input(bytes) {
      for (const b of bytes) {
        if (restarting || busy) return;
        if (b === 0x0a && lastWasCr) {
          lastWasCr = false;
          continue;
        }
        lastWasCr = b === 0x0d;
        if (b === 0x0d || b === 0x0a) {
          env.print("\r\n");
          const cmd = line;
          line = "";
          run(cmd);
          if (!restarting && !busy) env.print(spec.prompt);
        } else if (b === 0x7f || b === 0x08) {
          if (line.length > 0) {
            line = line.slice(0, -1);
            env.print("\b \b");
          }
        } else if (b >= 0x20 && b < 0x7f && line.length < 255) {
          line += String.fromCharCode(b);
          env.print(String.fromCharCode(b));
        }
      }
    },
  };
}
