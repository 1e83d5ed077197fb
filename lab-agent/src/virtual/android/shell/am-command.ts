import { missingInstrumentation, runInstrumentation } from "../instrumentation.js";
import { pm } from "./pm-command.js";
import type { ShellCommand, ShellContext, ShellIo } from "./shell-types.js";

async function instrument(args: string[], io: ShellIo, ctx: ShellContext): Promise<number> {
  let raw = false;
  let wait = false;
  const extras = new Map<string, string>();
  let component: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === "-r") raw = true;
    else if (a === "-w") wait = true;
    else if (a === "-e" || a === "--es") {
      extras.set(args[i + 1] ?? "", args[i + 2] ?? "");
      i += 2;
    } else if (a === "--user" || a === "--abi" || a === "-p") i++;
    else if (!a.startsWith("-")) component = a;
  }
  if (component === undefined || !component.includes("/")) {
    await io.stderr("Error: Bad component name: " + (component ?? "") + "\n");
    return 1;
  }
  const [pkg, runner] = component.split("/") as [string, string];
  const installed = ctx.device.packages.findInstrumentation(pkg, runner);
  if (!installed) {
    const { stdout, stderr } = missingInstrumentation(component);
    await io.stdout(stdout);
    await io.stderr(stderr);
    return 1;
  }
  const target = installed.instrumentation!.targetPackage;
  const pid = ctx.device.allocatePid();
  ctx.device.log("ActivityManager", `Start proc ${pid}:${target}/u0a${100 + (pid % 50)} for added application ${target}`, 4, "system");
  const script = ctx.device.instrumentation.get(pkg, target, installed.script);
  const classFilter = extras.get("class")?.split(",") ?? null;
  const running = runInstrumentation(script, {
    component,
    raw,
    classFilter,
    write: (text) => (wait ? io.stdout(text) : Promise.resolve()),
    log: (tag, message, priority, buffer) => ctx.device.logcat.append({ buffer: buffer ?? "main", pid, tid: pid, priority, tag, message }),
  });
  // Without -w am returns at once and the run carries on in the background.
  if (!wait) {
    void running.catch(() => undefined);
    return 0;
  }
  return running;
}

async function start(args: string[], io: ShellIo, ctx: ShellContext): Promise<number> {
  const n = args.indexOf("-n");
  const component = n >= 0 ? args[n + 1] : undefined;
  if (component === undefined) {
    await io.stdout(`Starting: Intent { ${args.join(" ")} }\n`);
    return 0;
  }
  const [pkg, cls] = component.split("/");
  const full = cls?.startsWith(".") ? `${pkg}${cls}` : cls;
  await io.stdout(`Starting: Intent { cmp=${component} }\n`);
  const p = ctx.device.packages.get(pkg ?? "");
  if (!p) {
    await io.stderr(`Error type 3\nError: Activity class {${pkg}/${full}} does not exist.\n`);
    return 1;
  }
  p.stopped = false;
  const pid = ctx.device.allocatePid();
  ctx.device.log("ActivityTaskManager", `START u0 {flg=0x10000000 cmp=${component}} from uid 2000`, 4, "system");
  ctx.device.log("ActivityManager", `Start proc ${pid}:${p.name}/u0a${100 + (pid % 50)} for activity {${component}}`, 4, "system");
  if (args.includes("-W")) await io.stdout(`Status: ok\nLaunchState: COLD\nActivity: ${pkg}/${full}\nTotalTime: 312\nWaitTime: 315\nComplete\n`);
  return 0;
}

/** `am` and `cmd activity`. */
export const am: ShellCommand = async (argv, io, ctx) => {
  const [, verb, ...args] = argv;
  switch (verb) {
    case "instrument":
      return instrument(args, io, ctx);
    case "start":
    case "start-activity":
      return start(args, io, ctx);
    case "force-stop":
    case "kill": {
      const p = ctx.device.packages.get(args.filter((a) => !a.startsWith("-")).pop() ?? "");
      if (p) {
        p.stopped = true;
        ctx.device.log("ActivityManager", `Force stopping ${p.name} appid=10${p.name.length} user=0: from pid ${ctx.device.allocatePid()}`, 4, "system");
      }
      return 0;
    }
    case "broadcast":
      await io.stdout("Broadcasting: Intent { }\nBroadcast completed: result=0\n");
      return 0;
    default:
      await io.stderr(`am: unknown command '${verb ?? ""}'\nusage: am [start|instrument|force-stop|broadcast] …\n`);
      return 1;
  }
};

/** `cmd <service> …`: the binder shell entry point that adb install/uninstall use. */
export const cmd: ShellCommand = async (argv, io, ctx) => {
  const [, service, ...rest] = argv;
  if (service === "package") return pm(["pm", ...rest], io, ctx);
  if (service === "activity") return am(["am", ...rest], io, ctx);
  if (service === "-l") {
    await io.stdout("activity\npackage\nwindow\n");
    return 0;
  }
  await io.stderr(`cmd: Can't find service: ${service ?? ""}\n`);
  return 20;
};
