// Static checks of docker/*.Dockerfile and docker/compose.yaml against the repository, for a machine
// with no Docker engine: a small Dockerfile parser, .dockerignore matching, compose interpolation, and
// the environment names each `hil` command really reads (taken from the code, not listed here).
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, statSync, symlinkSync } from "node:fs";
import { dirname, join, posix } from "node:path";
import type { Command } from "commander";
import { buildProgram } from "../src/main.js";

export const ROOT = join(import.meta.dirname, "..", "..");

export interface Instruction {
  keyword: string;
  /** Everything after the keyword, continuation lines joined. */
  args: string;
  line: number;
}

export interface Stage {
  name: string;
  base: string;
  /** The earlier stage this one starts from (`FROM deps AS build`), whose files it has. */
  parent?: string;
  instructions: Instruction[];
  /** WORKDIR at the start of the stage and at its end. */
  startWorkdir: string;
  workdir: string;
}

/** Dockerfile text → instructions: comments and parser directives dropped, `\` continuations joined. */
export function parseDockerfile(text: string): Instruction[] {
  const out: Instruction[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i] ?? "";
    if (/^\s*(#.*)?$/.test(raw)) continue;
    const start = i + 1;
    let joined = raw;
    while (/\\\s*$/.test(joined) && i + 1 < lines.length) {
      joined = joined.replace(/\\\s*$/, " ");
      i++;
      const next = lines[i] ?? "";
      if (/^\s*#/.test(next)) continue;
      joined += next;
    }
    const m = /^\s*([A-Za-z]+)\s*(.*)$/.exec(joined);
    if (m) out.push({ keyword: (m[1] ?? "").toUpperCase(), args: (m[2] ?? "").trim(), line: start });
  }
  return out;
}

/** Splits instructions into stages, with ARG defaults substituted in FROM lines. */
export function stagesOf(instructions: Instruction[]): Stage[] {
  const args = new Map<string, string>();
  const stages: Stage[] = [];
  for (const ins of instructions) {
    if (ins.keyword === "ARG" && stages.length === 0) {
      const [k, v = ""] = ins.args.split("=", 2);
      args.set(k ?? "", v);
      continue;
    }
    if (ins.keyword === "FROM") {
      const m = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(ins.args);
      const base = (m?.[1] ?? "").replace(/\$\{(\w+)\}/g, (_, k: string) => args.get(k) ?? "");
      const parent = stages.find((s) => s.name === base);
      const workdir = parent?.workdir ?? "/";
      stages.push({ name: m?.[2] ?? String(stages.length), base, ...(parent ? { parent: parent.name } : {}), instructions: [], startWorkdir: workdir, workdir });
      continue;
    }
    const stage = stages.at(-1);
    if (!stage) continue;
    if (ins.keyword === "WORKDIR") stage.workdir = posix.resolve(stage.workdir, ins.args);
    stage.instructions.push(ins);
  }
  return stages;
}

/** A JSON-array argument list (exec form) or whitespace-split words (shell form). */
export function words(args: string): string[] {
  if (args.startsWith("[")) return JSON.parse(args) as string[];
  return args.split(/\s+/).filter(Boolean);
}

export interface Copy {
  from?: string;
  sources: string[];
  /** Absolute, resolved against the stage's WORKDIR at that point. */
  dest: string;
  /** The destination was written as a directory (`dir/`): a file source lands inside it under its own name. */
  destIsDir: boolean;
  line: number;
}

export function copiesOf(stage: Stage): Copy[] {
  const out: Copy[] = [];
  let workdir = stage.startWorkdir;
  for (const ins of stage.instructions) {
    if (ins.keyword === "WORKDIR") workdir = posix.resolve(workdir, ins.args);
    if (ins.keyword !== "COPY" && ins.keyword !== "ADD") continue;
    const w = words(ins.args);
    let from: string | undefined;
    const rest: string[] = [];
    for (const x of w) {
      const flag = /^--(\w+)=(.*)$/.exec(x);
      if (flag) {
        if (flag[1] === "from") from = flag[2];
      } else rest.push(x);
    }
    const dest = rest.pop() ?? "";
    out.push({ ...(from ? { from } : {}), sources: rest, dest: posix.resolve(workdir, dest), destIsDir: /\/$|^\.$/.test(dest), line: ins.line });
  }
  return out;
}

export function envOf(stage: Stage): Record<string, string> {
  const env: Record<string, string> = {};
  for (const ins of stage.instructions.filter((i) => i.keyword === "ENV")) {
    for (const m of ins.args.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=("[^"]*"|\S*)/g)) env[m[1] ?? ""] = (m[2] ?? "").replace(/^"(.*)"$/, "$1");
  }
  return env;
}

/** .dockerignore patterns → whether a context path is left out (last matching pattern wins; `!` re-includes). */
export function dockerIgnore(text: string): (path: string) => boolean {
  const rules = text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith("#"))
    .map((l) => {
      const negate = l.startsWith("!");
      const pattern = posix.normalize((negate ? l.slice(1) : l).replace(/^\/+/, "")).replace(/\/+$/, "");
      const re = pattern
        .split("/")
        .map((seg) => (seg === "**" ? "(?:.*)" : seg.replace(/[.+^$()|{}[\]]/g, "\\$&").replace(/\*/g, "[^/]*").replace(/\?/g, "[^/]")))
        .join("/")
        .replace(/\(\?:\.\*\)\//g, "(?:.*/)?");
      return { negate, re: new RegExp(`^${re}$`) };
    });
  return (path) => {
    const parts = posix.normalize(path).split("/");
    let ignored = false;
    // a pattern matching a parent directory leaves out everything below it
    for (let n = 1; n <= parts.length; n++) {
      const prefix = parts.slice(0, n).join("/");
      for (const r of rules) if (r.re.test(prefix)) ignored = !r.negate;
    }
    return ignored;
  };
}

/** Compose interpolation: `${V}`, `${V:-default}`, `${V-default}`, `${V:?error}`, `$$` → `$`. */
export function interpolate(value: string, env: Record<string, string | undefined>): string {
  return value.replace(/\$\$|\$\{(\w+)(?:(:?[-?])([^}]*))?\}/g, (whole, name?: string, op?: string, arg?: string) => {
    if (whole === "$$") return "$";
    const v = env[name ?? ""];
    const unsetOrEmpty = v === undefined || (op?.startsWith(":") && v === "");
    if (op?.endsWith("?") && unsetOrEmpty) throw new Error(`required variable ${name} is unset: ${arg}`);
    if (op?.endsWith("-") && unsetOrEmpty) return arg ?? "";
    return v ?? "";
  });
}

/** Variables `${V…}` a compose file reads from docker/.env or the shell. */
export function composeVariables(text: string): Set<string> {
  return new Set([...text.replace(/\$\$/g, "").matchAll(/\$\{(\w+)/g)].map((m) => m[1] ?? ""));
}

function namesIn(file: string, patterns: RegExp[]): Set<string> {
  const text = readFileSync(join(ROOT, file), "utf8");
  const out = new Set<string>();
  for (const re of patterns) for (const m of text.matchAll(re)) out.add(m[1] ?? "");
  return out;
}

const ENV_READ = [/\benv\.([A-Z][A-Z0-9_]*)\b/g, /\benv\[["']([A-Z][A-Z0-9_]*)["']\]/g];

/** The environment each `hil` command reads, found in the code that reads it. */
export function envReadBy(command: string): Set<string> {
  const clientFiles = readdirSync(join(ROOT, "cli/src/client")).filter((f) => f.endsWith(".ts")).map((f) => `cli/src/client/${f}`);
  const client = new Set(clientFiles.flatMap((f) => [...namesIn(f, ENV_READ)]));
  if (command === "scheduler") {
    // the keys of the zod schema the configuration is parsed with, and the *_FILE names read before it
    const text = readFileSync(join(ROOT, "scheduler/src/config.ts"), "utf8");
    const start = text.indexOf("const ConfigSchema");
    const schema = start < 0 ? "" : text.slice(start, text.indexOf("\nexport ", start));
    const keys = [...schema.matchAll(/^\s+([A-Z][A-Z0-9_]*):/gm)].map((m) => m[1] ?? "");
    return new Set([...keys, ...namesIn("scheduler/src/config.ts", [/withOverrides\.([A-Z][A-Z0-9_]*)/g]), ...namesIn("cli/src/commands/scheduler.ts", ENV_READ)]);
  }
  // the agent's environment is read by its config module; the command itself only maps flags
  if (command === "agent") return new Set([...namesIn("lab-agent/src/agent/config.ts", ENV_READ), ...namesIn("cli/src/commands/agent.ts", ENV_READ)]);
  return client;
}

/** Where a file in the build stage's tree comes from in the repository (compiled outputs map to their sources). */
export function sourceOfBuildOutput(relPath: string): string | undefined {
  const m = /^([\w-]+)\/dist\/(\w+)(\/.*)?$/.exec(relPath);
  if (!m) return existsSync(join(ROOT, relPath)) ? relPath : undefined;
  const [, pkg = "", dir = "", rest = ""] = m;
  if (pkg === "dashboard" && dir === "web") {
    // the browser bundle: `npm run build` runs the script that writes dashboard/dist/web
    const build = (JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { scripts: Record<string, string> }).scripts["build"] ?? "";
    const script = "dashboard/scripts/build-web.mjs";
    const writesWeb = existsSync(join(ROOT, script)) && /join\(root, "dist", "web"\)/.test(readFileSync(join(ROOT, script), "utf8"));
    return build.includes(script) && writesWeb && rest === "" ? script : undefined;
  }
  const tsconfig = join(ROOT, pkg, "tsconfig.json");
  if (!existsSync(tsconfig)) return undefined;
  const opts = (JSON.parse(readFileSync(tsconfig, "utf8")) as { compilerOptions?: { rootDir?: string; outDir?: string } }).compilerOptions ?? {};
  if (opts.outDir !== "dist" || opts.rootDir !== ".") return undefined;
  const src = `${pkg}/${dir}${rest.replace(/\.js$/, ".ts")}`;
  return existsSync(join(ROOT, src)) ? src : undefined;
}

export function isDir(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/**
 * Whether `path` exists in the final image of `stages`: a COPY into it from the context (the file
 * exists and .dockerignore keeps it) or from an earlier stage (a build output whose source exists).
 */
export function providedBy(stages: Stage[], stageName: string, path: string, ignored: (p: string) => boolean): string | undefined {
  const stage = stages.find((s) => s.name === stageName);
  if (!stage) return undefined;
  for (const c of copiesOf(stage).reverse()) {
    for (const src of c.sources) {
      // a file copied into a directory keeps its name; a directory's contents land in the destination
      const fileIntoDir = c.destIsDir && (c.from ? /\.\w+$/.test(src) : !isDir(join(ROOT, src)));
      const dest = fileIntoDir ? posix.join(c.dest, posix.basename(src)) : c.dest;
      if (path !== dest && !path.startsWith(`${dest}/`)) continue;
      const rest = path.slice(dest.length).replace(/^\//, "");
      if (!c.from) {
        const rel = posix.join(src, rest);
        if (existsSync(join(ROOT, rel)) && !ignored(rel)) return rel;
        continue;
      }
      const found = stageBuilds(stages, c.from, posix.join(src, rest), ignored);
      if (found) return found;
    }
  }
  return stage.parent ? providedBy(stages, stage.parent, path, ignored) : undefined;
}

/**
 * Whether stage `name` has `path` (absolute, in that stage): what `npm ci` installed, a build output
 * whose source the stage holds, or a file copied there.
 */
export function stageBuilds(stages: Stage[], name: string, path: string, ignored: (p: string) => boolean): string | undefined {
  const from = stages.find((s) => s.name === name);
  if (!from || !path.startsWith(`${from.workdir}/`)) return undefined;
  const rel = path.slice(from.workdir.length + 1);
  if (rel.split("/")[0] === "node_modules") return "node_modules";
  const source = sourceOfBuildOutput(rel);
  if (source && source !== rel) return providedBy(stages, from.name, posix.join(from.workdir, source), ignored) ? source : undefined;
  return providedBy(stages, from.name, path, ignored);
}

/** Problems with `hil ARGS…`: unknown command, unknown flag, a required flag missing. */
export function checkHilArgs(args: string[], where: string): string[] {
  let cmd: Command = buildProgram();
  const rest = [...args];
  for (let sub = cmd.commands.find((c) => c.name() === rest[0]); sub; sub = cmd.commands.find((c) => c.name() === rest[0])) {
    cmd = sub;
    rest.shift();
  }
  if (cmd.name() === "hil") return [`${where}: "hil ${args.join(" ")}" names no hil command`];
  const longs = new Set(cmd.options.map((o) => o.long));
  const problems = rest.filter((a) => a.startsWith("--") && !longs.has(a.split("=")[0])).map((a) => `${where}: hil ${cmd.name()} has no option ${a}`);
  for (const o of cmd.options) if (o.mandatory && !rest.includes(o.long ?? "")) problems.push(`${where}: hil ${cmd.name()} needs ${o.long}`);
  return problems;
}

/**
 * Lays out the final stage's files under `target` as the image would hold them under its WORKDIR:
 * context sources from the repository, build outputs from the repository's own build (`npm run build`),
 * and node_modules as links to the repository's packages, with the workspace links pointing inside `target`.
 */
export function assembleImage(stages: Stage[], target: string): void {
  const final = stages.at(-1);
  if (!final) throw new Error("no stage");
  const inImage = (abs: string) => {
    if (abs !== final.workdir && !abs.startsWith(`${final.workdir}/`)) throw new Error(`${abs} is outside ${final.workdir}`);
    return join(target, abs.slice(final.workdir.length));
  };
  for (const c of copiesOf(final)) {
    for (const src of c.sources) {
      let rel = src;
      if (c.from) {
        const from = stages.find((s) => s.name === c.from);
        if (!from || !src.startsWith(`${from.workdir}/`)) throw new Error(`line ${c.line}: ${src} is not in stage ${c.from}`);
        rel = src.slice(from.workdir.length + 1);
      }
      const source = join(ROOT, rel);
      const dest = inImage(c.destIsDir && !isDir(source) ? posix.join(c.dest, posix.basename(src)) : c.dest);
      if (rel === "node_modules") {
        linkNodeModules(dest);
        continue;
      }
      if (!existsSync(source)) throw new Error(`line ${c.line}: ${rel} does not exist (run npm run build first)`);
      mkdirSync(dirname(dest), { recursive: true });
      cpSync(source, dest, { recursive: true });
    }
  }
}

/** What `npm ci --omit=dev` installs at the top of node_modules: the lock file's packages not marked dev. */
function linkNodeModules(dest: string): void {
  const lock = JSON.parse(readFileSync(join(ROOT, "package-lock.json"), "utf8")) as { packages: Record<string, { dev?: boolean; link?: boolean; resolved?: string }> };
  for (const [key, entry] of Object.entries(lock.packages)) {
    const name = /^node_modules\/((?:@[^/]+\/)?[^/]+)$/.exec(key)?.[1];
    if (!name || entry.dev) continue;
    const at = join(dest, name);
    mkdirSync(dirname(at), { recursive: true });
    // workspace packages point into the image's tree; the others at the repository's installed copies
    if (entry.link) symlinkSync(posix.join("../".repeat(name.split("/").length), entry.resolved ?? ""), at);
    else symlinkSync(join(ROOT, "node_modules", name), at);
  }
}
