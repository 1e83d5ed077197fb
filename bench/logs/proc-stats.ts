import { readdirSync, readFileSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { cpus } from "node:os";

/** Clock ticks per second of /proc/<pid>/stat's utime and stime (nearly always 100). */
const TICKS_PER_SECOND = (() => {
  try {
    return Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
  } catch {
    return 100;
  }
})();

export const CORES = cpus().length;

function statFields(pid: number): string[] | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, "utf8");
    // the command name is in parentheses and may hold spaces: fields are counted after its closing one
    return text.slice(text.lastIndexOf(")") + 2).split(" ");
  } catch {
    return undefined;
  }
}

/** CPU seconds (user + system) a process has used so far; 0 once it is gone. */
export function cpuSeconds(pid: number): number {
  const f = statFields(pid);
  if (!f) return 0;
  // after the name: state(0) ppid(1) … utime(11) stime(12)
  return (Number(f[11]) + Number(f[12])) / TICKS_PER_SECOND;
}

/** Resident set size in MiB (VmRSS), 0 once the process is gone. */
export function rssMiB(pid: number): number {
  try {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

/** Every live process below `root` (children, grandchildren, …). */
export function descendants(root: number): number[] {
  const parent = new Map<number, number>();
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const f = statFields(Number(name));
    if (f) parent.set(Number(name), Number(f[1]));
  }
  const out: number[] = [];
  const walk = (pid: number) => {
    for (const [child, ppid] of parent) {
      if (ppid !== pid) continue;
      out.push(child);
      walk(child);
    }
  };
  walk(root);
  return out;
}

/** Busy and total CPU time of the whole machine, in seconds summed over cores (/proc/stat). */
export function machineCpu(): { busy: number; total: number } {
  const line = readFileSync("/proc/stat", "utf8").split("\n")[0] ?? "";
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal (guest time is already inside user)
  const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
  const idle = (v[3] ?? 0) + (v[4] ?? 0);
  return { busy: (total - idle) / TICKS_PER_SECOND, total: total / TICKS_PER_SECOND };
}

/** CPU and peak RSS of named processes (or process groups) over a window. */
export class UsageMeter {
  private readonly startCpu = new Map<string, number>();
  private readonly peakRss = new Map<string, number>();
  private startMachine = { busy: 0, total: 0 };
  private startedAt = 0;
  private timer: NodeJS.Timeout | undefined;
  /** Which processes each group has, fixed when the window starts (finding them scans /proc: not every sample). */
  private members = new Map<string, number[]>();

  constructor(private readonly findGroups: () => Map<string, number[]>) {}

  private groups(): Map<string, number[]> {
    return this.members;
  }

  private cpuOf(pids: number[]): number {
    return pids.reduce((a, p) => a + cpuSeconds(p), 0);
  }

  private sampleRss(): void {
    for (const [name, pids] of this.groups()) {
      const rss = pids.reduce((a, p) => a + rssMiB(p), 0);
      this.peakRss.set(name, Math.max(this.peakRss.get(name) ?? 0, rss));
    }
  }

  start(): void {
    this.members = this.findGroups();
    this.startedAt = performance.now();
    this.startMachine = machineCpu();
    for (const [name, pids] of this.groups()) this.startCpu.set(name, this.cpuOf(pids));
    this.sampleRss();
    this.timer = setInterval(() => this.sampleRss(), 500);
  }

  /** Per group: CPU as % of one core over the window, peak RSS in MiB; and the machine's busy cores. */
  stop(): { groups: Record<string, { cpuPct: number; rssMiB: number }>; machineBusyCores: number; seconds: number } {
    if (this.timer) clearInterval(this.timer);
    this.sampleRss();
    const seconds = (performance.now() - this.startedAt) / 1000;
    const groups: Record<string, { cpuPct: number; rssMiB: number }> = {};
    for (const [name, pids] of this.groups()) {
      const used = this.cpuOf(pids) - (this.startCpu.get(name) ?? 0);
      groups[name] = { cpuPct: (100 * used) / seconds, rssMiB: this.peakRss.get(name) ?? 0 };
    }
    const m = machineCpu();
    const busy = m.busy - this.startMachine.busy;
    const total = m.total - this.startMachine.total;
    return { groups, machineBusyCores: total > 0 ? (busy / total) * CORES : 0, seconds };
  }
}
