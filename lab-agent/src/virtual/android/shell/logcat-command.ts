import { encodeBinaryEntry, formatThreadtime, priorityFromLetter, type LogBufferName, type LogEntry } from "../logcat-buffer.js";
import { CommandError, type ShellCommand } from "./shell-types.js";

const ALL_BUFFERS: LogBufferName[] = ["main", "system", "crash", "events", "radio"];
const DEFAULT_BUFFERS: LogBufferName[] = ["main", "system", "crash"];

interface Filter {
  byTag: Map<string, number>;
  fallback: number;
}

/** `TAG:P` specs; `*:P` sets the default; a bare TAG means `TAG:V`. Unparsable specs are ignored. */
function addSpecs(filter: Filter, specs: string[]): void {
  for (const spec of specs) {
    const m = /^([^:\s']+)(?::([VDIWEFS*]))?$/i.exec(spec);
    if (!m) continue;
    const level = m[2] === undefined || m[2] === "*" ? 2 : m[2].toUpperCase() === "S" ? 99 : priorityFromLetter(m[2]);
    if (m[1] === "*") filter.fallback = level;
    else filter.byTag.set(m[1]!, level);
  }
}

function passes(f: Filter, e: LogEntry): boolean {
  return e.priority >= (f.byTag.get(e.tag) ?? f.fallback);
}

/**
 * `logcat` with `-d`, `-c`, `-b`, `-v threadtime|brief|raw`, `-t N`, `-s`, `-B`/`--binary`, and filter
 * specs. Without `-d` it keeps streaming until the client closes the stream.
 */
export const logcat: ShellCommand = async (argv, io, ctx) => {
  const buffers = new Set<LogBufferName>();
  let dump = false;
  let clear = false;
  let binary = false;
  let format = "threadtime";
  let tail: number | null = null;
  const filter: Filter = { byTag: new Map(), fallback: 2 };
  const specs: string[] = [];
  const args = argv.slice(1);
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === "-d") dump = true;
    else if (a === "-c") clear = true;
    else if (a === "-B" || a === "--binary") binary = true;
    else if (a === "-s") filter.fallback = 99;
    else if (a === "-b" || a.startsWith("--buffer")) {
      const value = a.includes("=") ? a.slice(a.indexOf("=") + 1) : args[++i];
      for (const b of (value ?? "").split(",")) {
        if (b === "all" || b === "default") for (const x of b === "all" ? ALL_BUFFERS : DEFAULT_BUFFERS) buffers.add(x);
        else if ((ALL_BUFFERS as string[]).includes(b)) buffers.add(b as LogBufferName);
        else throw new CommandError(`logcat: unknown buffer '${b}'`);
      }
    } else if (a === "-v") format = args[++i] ?? "threadtime";
    else if (a.startsWith("-v")) format = a.slice(2);
    else if (a === "-t" || a === "-T") {
      tail = Number(args[++i]);
      if (a === "-t") dump = true;
    } else if (a.startsWith("-")) continue;
    else specs.push(a);
  }
  const envTags = ctx.env.get("ANDROID_LOG_TAGS");
  addSpecs(filter, specs.length > 0 ? specs : (envTags ?? "").split(/\s+/));
  if (buffers.size === 0) for (const b of DEFAULT_BUFFERS) buffers.add(b);
  if (clear) {
    ctx.device.logcat.clear(buffers);
    return 0;
  }
  const announced = new Set<LogBufferName>();
  const render = (e: LogEntry): Buffer | string => {
    if (binary) return encodeBinaryEntry(e);
    const head = announced.has(e.buffer) ? "" : `--------- beginning of ${e.buffer}\n`;
    announced.add(e.buffer);
    const letter = "??VDIWEFS"[e.priority] ?? "?";
    if (format === "brief") return `${head}${letter}/${e.tag}(${String(e.pid).padStart(5)}): ${e.message}\n`;
    if (format === "raw") return `${head}${e.message}\n`;
    return head + formatThreadtime(e);
  };
  let backlog = ctx.device.logcat.snapshot(buffers).filter((e) => passes(filter, e));
  if (tail !== null && Number.isInteger(tail) && tail >= 0) backlog = backlog.slice(-tail);
  if (dump) {
    const chunks = backlog.map(render);
    await io.stdout(binary ? Buffer.concat(chunks.map((c) => Buffer.from(c))) : chunks.join(""));
    return 0;
  }
  // Follow: write the backlog, then each new entry, until the client goes away.
  let chain = Promise.resolve();
  const unsubscribe = ctx.device.logcat.subscribe((e) => {
    if (buffers.has(e.buffer) && passes(filter, e)) chain = chain.then(() => io.stdout(render(e)));
  });
  try {
    for (const e of backlog) await io.stdout(render(e));
    await new Promise<void>((resolve) => {
      if (io.signal.aborted) resolve();
      else io.signal.addEventListener("abort", () => resolve(), { once: true });
    });
  } finally {
    unsubscribe();
  }
  return 0;
};
