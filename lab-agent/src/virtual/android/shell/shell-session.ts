import { ByteQueue } from "../byte-queue.js";
import type { AndroidDeviceState } from "../device-state.js";
import { FsError, MemoryFs } from "../memory-fs.js";
import { parseShell, ShellSyntaxError, type Pipeline, type SimpleCommand } from "./shell-parser.js";
import { CommandError, type ShellCommand, type ShellContext, type ShellIo } from "./shell-types.js";

class ExitRequest {
  constructor(readonly code: number) {}
}

function endedQueue(data?: Buffer): ByteQueue {
  const q = new ByteQueue();
  if (data) q.push(data);
  q.end();
  return q;
}

/** One `/system/bin/sh` invocation: variables, cwd, and the command table. */
export class ShellSession implements ShellContext {
  readonly env = new Map<string, string>([
    ["PATH", "/product/bin:/apex/com.android.runtime/bin:/system/bin:/system/xbin:/odm/bin:/vendor/bin"],
    ["HOME", "/"],
    ["USER", "shell"],
    ["ANDROID_DATA", "/data"],
  ]);
  cwd = "/";
  private lastStatus = 0;

  constructor(
    readonly device: AndroidDeviceState,
    private readonly commands: ReadonlyMap<string, ShellCommand>,
  ) {}

  async run(line: string, io: ShellIo): Promise<number> {
    try {
      return await this.runLine(line, io);
    } catch (err) {
      if (err instanceof ExitRequest) return err.code;
      throw err;
    }
  }

  private async runLine(line: string, io: ShellIo): Promise<number> {
    let lists;
    try {
      lists = parseShell(line, (name) => (name === "?" ? String(this.lastStatus) : (this.env.get(name) ?? "")));
    } catch (err) {
      if (!(err instanceof ShellSyntaxError)) throw err;
      await io.stderr(`/system/bin/sh: ${err.message}\n`);
      return 2;
    }
    let status = 0;
    for (const list of lists) {
      status = await this.runPipeline(list.first, io);
      for (const { op, pipeline } of list.rest) {
        if ((op === "&&" && status !== 0) || (op === "||" && status === 0)) continue;
        status = await this.runPipeline(pipeline, io);
      }
      this.lastStatus = status;
      if (io.signal.aborted) break;
    }
    return status;
  }

  private async runPipeline(p: Pipeline, io: ShellIo): Promise<number> {
    let stdin = io.stdin;
    let status = 0;
    for (let i = 0; i < p.commands.length; i++) {
      const last = i === p.commands.length - 1;
      if (last) return this.runSimple(p.commands[i]!, { ...io, stdin });
      // Earlier stages run to completion into a buffer: enough for `getprop | grep x`.
      const captured: Buffer[] = [];
      status = await this.runSimple(p.commands[i]!, { ...io, stdin, stdout: async (d) => void captured.push(Buffer.from(d)) });
      stdin = endedQueue(Buffer.concat(captured));
    }
    return status;
  }

  private async runSimple(cmd: SimpleCommand, outer: ShellIo): Promise<number> {
    if (cmd.argv.length === 0) {
      for (const [k, v] of cmd.assignments) this.env.set(k, v);
      return 0;
    }
    const files = new Map<string, { append: boolean; chunks: Buffer[] }>();
    let io: ShellIo = { ...outer };
    for (const r of cmd.redirects) {
      if (r.op === "<") {
        const path = MemoryFs.normalize(r.target, this.cwd);
        try {
          io = { ...io, stdin: endedQueue(path === "/dev/null" ? undefined : this.device.fs.readFile(path)) };
        } catch (err) {
          await outer.stderr(`/system/bin/sh: can't open '${r.target}': No such file or directory\n`);
          return 1;
        }
      } else if (r.op === ">&") {
        if (r.fd === 2 && r.target === "1") io = { ...io, stderr: io.stdout };
        else if (r.fd === 1 && r.target === "2") io = { ...io, stdout: io.stderr };
      } else {
        const path = MemoryFs.normalize(r.target, this.cwd);
        const sink = async (d: string | Buffer): Promise<void> => {
          if (path === "/dev/null") return;
          let f = files.get(path);
          if (!f) files.set(path, (f = { append: r.op === ">>", chunks: [] }));
          f.chunks.push(Buffer.from(d));
        };
        if (path !== "/dev/null") files.set(path, { append: r.op === ">>", chunks: [] });
        io = r.fd === 2 ? { ...io, stderr: sink } : { ...io, stdout: sink };
      }
    }
    let argv = cmd.argv;
    while (argv[0] === "exec" || argv[0] === "command" || argv[0] === "nohup") argv = argv.slice(1);
    if (argv.length === 0) return 0;
    const status = await this.dispatch(argv, io);
    for (const [path, f] of files) {
      const data = Buffer.concat(f.chunks);
      const before = f.append && this.device.fs.stat(path) ? this.device.fs.readFile(path) : Buffer.alloc(0);
      this.device.fs.writeFile(path, Buffer.concat([before, data]));
    }
    return status;
  }

  private async dispatch(argv: string[], io: ShellIo): Promise<number> {
    const name = argv[0]!;
    switch (name) {
      case "exit":
        throw new ExitRequest(Number(argv[1] ?? this.lastStatus) & 0xff);
      case "export":
        for (const a of argv.slice(1)) {
          const eq = a.indexOf("=");
          if (eq > 0) this.env.set(a.slice(0, eq), a.slice(eq + 1));
        }
        return 0;
      case "cd": {
        const target = MemoryFs.normalize(argv[1] ?? "/", this.cwd);
        if (!this.device.fs.stat(target)?.isDir) {
          await io.stderr(`/system/bin/sh: cd: ${argv[1]}: No such file or directory\n`);
          return 2;
        }
        this.cwd = target;
        return 0;
      }
    }
    const base = name.includes("/") ? name.slice(name.lastIndexOf("/") + 1) : name;
    const impl = this.commands.get(base);
    if (!impl) {
      await io.stderr(`/system/bin/sh: ${name}: inaccessible or not found\n`);
      return 127;
    }
    try {
      return await impl([base, ...argv.slice(1)], io, this);
    } catch (err) {
      if (err instanceof ExitRequest) throw err;
      if (err instanceof CommandError) {
        await io.stderr(`${err.message}\n`);
        return err.exitCode;
      }
      if (err instanceof FsError) {
        await io.stderr(`${base}: ${err.message}\n`);
        return 1;
      }
      throw err;
    }
  }
}
