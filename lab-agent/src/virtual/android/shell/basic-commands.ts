import { setTimeout as delay } from "node:timers/promises";
import { FsError, MemoryFs } from "../memory-fs.js";
import { encodePng, renderScreen } from "../png-encoder.js";
import type { RebootTarget } from "../device-state.js";
import { CommandError, type ShellCommand, type ShellContext, type ShellIo } from "./shell-types.js";

async function readAllInput(io: ShellIo): Promise<Buffer> {
  const parts: Buffer[] = [];
  for (;;) {
    const chunk = await io.stdin.readSome();
    if (chunk === null) return Buffer.concat(parts);
    parts.push(chunk);
  }
}

function splitFlags(args: string[]): { flags: Set<string>; rest: string[] } {
  const flags = new Set<string>();
  const rest: string[] = [];
  for (const a of args) {
    if (/^-[A-Za-z]+$/.test(a)) for (const f of a.slice(1)) flags.add(f);
    else rest.push(a);
  }
  return { flags, rest };
}

const echo: ShellCommand = async (argv, io) => {
  let args = argv.slice(1);
  let newline = true;
  if (args[0] === "-n") {
    newline = false;
    args = args.slice(1);
  }
  await io.stdout(`${args.join(" ")}${newline ? "\n" : ""}`);
  return 0;
};

const cat: ShellCommand = async (argv, io, ctx) => {
  const files = argv.slice(1);
  if (files.length === 0 || (files.length === 1 && files[0] === "-")) {
    await io.stdout(await readAllInput(io));
    return 0;
  }
  let status = 0;
  for (const f of files) {
    try {
      await io.stdout(ctx.device.fs.readFile(MemoryFs.normalize(f, ctx.cwd)));
    } catch (err) {
      if (!(err instanceof FsError)) throw err;
      await io.stderr(`cat: ${f}: ${err.errno === 2 ? "No such file or directory" : "Is a directory"}\n`);
      status = 1;
    }
  }
  return status;
};

function longLine(ctx: ShellContext, path: string, name: string): string {
  const st = ctx.device.fs.stat(path)!;
  const perm = st.mode & 0o777;
  const bits = [6, 3, 0].map((s) => `${perm & (4 << s) ? "r" : "-"}${perm & (2 << s) ? "w" : "-"}${perm & (1 << s) ? "x" : "-"}`).join("");
  const date = new Date(st.mtime * 1000).toISOString().slice(0, 16).replace("T", " ");
  return `${st.isDir ? "d" : "-"}${bits} 1 shell shell ${String(st.size).padStart(8)} ${date} ${name}\n`;
}

const ls: ShellCommand = async (argv, io, ctx) => {
  const { flags, rest } = splitFlags(argv.slice(1));
  const targets = rest.length > 0 ? rest : ["."];
  let status = 0;
  for (const t of targets) {
    const path = MemoryFs.normalize(t, ctx.cwd);
    const st = ctx.device.fs.stat(path);
    if (!st) {
      await io.stderr(`ls: ${t}: No such file or directory\n`);
      status = 1;
      continue;
    }
    if (targets.length > 1 && st.isDir) await io.stdout(`${t}:\n`);
    const names = st.isDir && !flags.has("d") ? ctx.device.fs.list(path).map((n) => [n, `${path === "/" ? "" : path}/${n}`] as const) : [[t, path] as const];
    for (const [name, full] of names) await io.stdout(flags.has("l") ? longLine(ctx, full, name) : `${name}\n`);
  }
  return status;
};

const rm: ShellCommand = async (argv, io, ctx) => {
  const { flags, rest } = splitFlags(argv.slice(1));
  let status = 0;
  for (const t of rest) {
    try {
      ctx.device.fs.remove(MemoryFs.normalize(t, ctx.cwd), flags.has("r") || flags.has("R"));
    } catch (err) {
      if (!(err instanceof FsError)) throw err;
      if (flags.has("f") && err.errno === 2) continue;
      await io.stderr(`rm: ${t}: ${err.errno === 2 ? "No such file or directory" : "Is a directory"}\n`);
      status = 1;
    }
  }
  return status;
};

const mkdir: ShellCommand = async (argv, io, ctx) => {
  const { flags, rest } = splitFlags(argv.slice(1));
  let status = 0;
  for (const t of rest) {
    const path = MemoryFs.normalize(t, ctx.cwd);
    try {
      if (flags.has("p")) ctx.device.fs.mkdirp(path);
      else ctx.device.fs.mkdir(path);
    } catch (err) {
      if (!(err instanceof FsError)) throw err;
      await io.stderr(`mkdir: ${err.message}\n`);
      status = 1;
    }
  }
  return status;
};

const id: ShellCommand = async (_argv, io) => {
  await io.stdout("uid=2000(shell) gid=2000(shell) groups=2000(shell),1004(input),1007(log),1011(adb),1015(sdcard_rw),1028(sdcard_r),3001(net_bt_admin),3002(net_bt),3003(inet),3006(net_bw_stats),3009(readproc),3011(uhid) context=u:r:shell:s0\n");
  return 0;
};

const getprop: ShellCommand = async (argv, io, ctx) => {
  const props = ctx.device.props;
  const key = argv[1];
  if (key === undefined) {
    const keys = [...props.keys()].sort();
    await io.stdout(keys.map((k) => `[${k}]: [${props.get(k)}]\n`).join(""));
    return 0;
  }
  await io.stdout(`${props.get(key) ?? argv[2] ?? ""}\n`);
  return 0;
};

const setprop: ShellCommand = async (argv, io, ctx) => {
  const [, key, value] = argv;
  if (key === undefined || value === undefined) throw new CommandError("usage: setprop NAME VALUE");
  if (key.startsWith("ro.") && ctx.device.props.has(key)) {
    await io.stderr(`Failed to set property '${key}' to '${value}'.\nSee dmesg for error reason.\n`);
    return 1;
  }
  ctx.device.props.set(key, value);
  return 0;
};

const sleep: ShellCommand = async (argv, io) => {
  const seconds = Number(argv[1] ?? "0");
  if (!Number.isFinite(seconds) || seconds < 0) throw new CommandError(`sleep: invalid number '${argv[1]}'`);
  await delay(seconds * 1000, undefined, { signal: io.signal }).catch(() => undefined);
  return 0;
};

const grep: ShellCommand = async (argv, io, ctx) => {
  const { flags, rest } = splitFlags(argv.slice(1));
  const [pattern, file] = rest;
  if (pattern === undefined) throw new CommandError("usage: grep [-ivF] PATTERN [FILE]", 2);
  const text = (file !== undefined ? ctx.device.fs.readFile(MemoryFs.normalize(file, ctx.cwd)) : await readAllInput(io)).toString("utf8");
  const re = flags.has("F") ? null : new RegExp(pattern, flags.has("i") ? "i" : "");
  const match = (line: string): boolean => (re ? re.test(line) : flags.has("i") ? line.toLowerCase().includes(pattern.toLowerCase()) : line.includes(pattern));
  const lines = text.split("\n").filter((l, i, all) => !(i === all.length - 1 && l === "")).filter((l) => match(l) !== flags.has("v"));
  await io.stdout(lines.map((l) => `${l}\n`).join(""));
  return lines.length > 0 ? 0 : 1;
};

const sh: ShellCommand = async (argv, io, ctx) => {
  if (argv[1] === "-c" && argv[2] !== undefined) return ctx.run(argv[2], io);
  if (argv.length === 1) return ctx.run((await readAllInput(io)).toString("utf8"), io);
  await io.stderr(`sh: ${argv[1]}: inaccessible or not found\n`);
  return 127;
};

const input: ShellCommand = async (argv, io, ctx) => {
  const [, action, ...args] = argv;
  const arity: Record<string, number> = { tap: 2, swipe: 4, text: 1, keyevent: 1, press: 0, roll: 2 };
  if (action === undefined || !(action in arity) || args.length < arity[action]!) {
    await io.stderr("Usage: input [<source>] <command> [<arg>...]\n\nThe commands and default sources are:\n      text <string> (Default: touchscreen)\n      keyevent [--longpress] <key code number or name> ... (Default: keyboard)\n      tap <x> <y> (Default: touchscreen)\n      swipe <x1> <y1> <x2> <y2> [duration(ms)] (Default: touchscreen)\n");
    return 1;
  }
  ctx.device.log("InputDispatcher", `injected ${action} ${args.join(" ")}`, 3, "system");
  return 0;
};

const wm: ShellCommand = async (argv, io, ctx) => {
  const [, what, value] = argv;
  const s = ctx.device.screen;
  if (what === "size") {
    if (value === "reset") s.override = undefined;
    else if (value !== undefined) {
      const m = /^(\d+)x(\d+)$/.exec(value);
      if (!m) throw new CommandError(`Error: bad size ${value}`, 255);
      s.override = { width: Number(m[1]), height: Number(m[2]) };
    } else {
      await io.stdout(`Physical size: ${s.width}x${s.height}\n${s.override ? `Override size: ${s.override.width}x${s.override.height}\n` : ""}`);
    }
    return 0;
  }
  if (what === "density") {
    if (value === undefined) await io.stdout(`Physical density: ${s.density}\n`);
    return 0;
  }
  await io.stderr(`Error: unknown command '${what ?? ""}'\n`);
  return 255;
};

const screencap: ShellCommand = async (argv, io, ctx) => {
  const { flags, rest } = splitFlags(argv.slice(1));
  const { width, height } = ctx.device.screen.override ?? ctx.device.screen;
  const rgb = renderScreen(width, height);
  const file = rest[0];
  let out: Buffer;
  if (flags.has("p") || file?.endsWith(".png")) out = encodePng(width, height, rgb);
  else {
    // Raw form: width, height, pixel format (1 = RGBA_8888) as u32 LE, then the pixels.
    const head = Buffer.alloc(12);
    head.writeUInt32LE(width, 0);
    head.writeUInt32LE(height, 4);
    head.writeUInt32LE(1, 8);
    const rgba = Buffer.alloc(width * height * 4, 0xff);
    for (let i = 0, j = 0; i < rgb.length; i += 3, j += 4) rgb.copy(rgba, j, i, i + 3);
    out = Buffer.concat([head, rgba]);
  }
  if (file !== undefined) ctx.device.fs.writeFile(MemoryFs.normalize(file, ctx.cwd), out);
  else await io.stdout(out);
  return 0;
};

const reboot: ShellCommand = async (argv, io, ctx) => {
  const target = (argv[1] ?? "") as RebootTarget;
  if (!["", "bootloader", "recovery", "fastboot"].includes(target)) {
    await io.stderr(`reboot: unknown target '${target}'\n`);
    return 1;
  }
  ctx.device.onReboot(target);
  return 0;
};

const uname: ShellCommand = async (argv, io) => {
  await io.stdout(argv.includes("-a") ? "Linux localhost 4.19.0-virtual #1 SMP PREEMPT aarch64 Toybox\n" : "Linux\n");
  return 0;
};

// adbd runs as shell (uid 2000) here, as on a user build without `adb root`.
const remount: ShellCommand = async (_argv, io) => {
  await io.stderr('Not running as root. Try "adb root" first.\n');
  return 1;
};

export const BASIC_COMMANDS: ReadonlyMap<string, ShellCommand> = new Map<string, ShellCommand>([
  ["echo", echo],
  ["cat", cat],
  ["ls", ls],
  ["rm", rm],
  ["mkdir", mkdir],
  ["id", id],
  ["getprop", getprop],
  ["setprop", setprop],
  ["sleep", sleep],
  ["grep", grep],
  ["sh", sh],
  ["input", input],
  ["wm", wm],
  ["screencap", screencap],
  ["reboot", reboot],
  ["uname", uname],
  ["remount", remount],
  ["true", async () => 0],
  ["false", async () => 1],
]);
