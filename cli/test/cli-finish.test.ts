// `hil` as a finished tool: shell completion made from the command tree, --json on every listing and
// show command, and failures that say what to do, with the exit code CI branches on.
import { spawnSync } from "node:child_process";
import { createServer } from "node:http";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Command } from "commander";
import { LabError, UsageError } from "@hil/contracts";
import { freePort, makeTempDir, spawnHil } from "@hil/test-kit";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { buildProgram } from "../src/main.js";
import { describeFailure, FAILURES } from "../src/failure.js";
import { HilApiError } from "../src/client/api-error.js";
import { EXIT } from "../src/exit-codes.js";

async function hil(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; out: string }> {
  const p = spawnHil(args, { env: { ...process.env, HIL_URL: "", HIL_TOKEN: "", ...env } });
  const code = await p.exited;
  return { code, out: p.output() };
}

function commands(cmd: Command, path = ""): { path: string; cmd: Command }[] {
  return cmd.commands.flatMap((c) => {
    const p = path ? `${path} ${c.name()}` : c.name();
    return [{ path: p, cmd: c }, ...commands(c, p)];
  });
}

test("bash completion offers the commands and options the tree has, at each level", async () => {
  const tmp = await makeTempDir("hil-completion-");
  try {
    const script = await hil(["completion", "bash"]);
    assert.is(script.code, 0, script.out);
    const file = join(tmp.dir, "hil.bash");
    await writeFile(file, script.out);
    const complete = (words: string[]) => {
      const r = spawnSync("bash", ["-c", `source "$1"; COMP_WORDS=(${words.map((w) => `'${w}'`).join(" ")}); COMP_CWORD=${words.length - 1}; _hil; printf '%s\\n' "\${COMPREPLY[@]}"`, "_", file], { encoding: "utf8" });
      assert.is(r.status, 0, r.stderr);
      return r.stdout.split("\n").filter(Boolean).sort();
    };
    assert.equal(complete(["hil", "bo"]), ["boards", "book"]);
    assert.ok(complete(["hil", "tokens", ""]).includes("list"), "a subcommand one level down");
    assert.ok(complete(["hil", "runs", "--state", "queued", "sh"]).includes("show"), "an option's value is skipped");
    assert.equal(complete(["hil", "run", "--ju"]), ["--junit"]);
    assert.equal(complete(["hil", "nosuch", "--ju"]), [], "nothing for a command that does not exist");
  } finally {
    await tmp.remove();
  }
});

test("zsh and fish scripts; an unknown shell is a usage error", async () => {
  const zsh = await hil(["completion", "zsh"]);
  assert.is(zsh.code, 0);
  assert.match(zsh.out, /bashcompinit/);
  assert.match(zsh.out, /complete -F _hil hil/);
  const fish = await hil(["completion", "fish"]);
  assert.is(fish.code, 0);
  for (const { name } of buildProgram().commands.map((c) => ({ name: c.name() }))) assert.match(fish.out, new RegExp(`-a '${name}'`), `fish offers ${name}`);
  assert.match(fish.out, /__fish_seen_subcommand_from tokens.* -a 'list'/);
  const bad = await hil(["completion", "tcsh"]);
  assert.is(bad.code, 64);
  assert.match(bad.out, /unknown shell "tcsh" \(bash, zsh or fish\)/);
});

test("every listing and show command takes --json", () => {
  const listing = commands(buildProgram()).filter(({ path, cmd }) => /(^| )(list|show|info|partitions)$/.test(path) || ["boards", "runs", "audit", "whoami"].includes(path) || cmd.name() === "list");
  assert.ok(listing.length >= 10, listing.map((l) => l.path).join(", "));
  const missing = listing.filter(({ cmd }) => !cmd.options.some((o) => o.long === "--json")).map((l) => l.path);
  assert.equal(missing, [], "commands without --json");
});

test("a lab that does not answer: exit 2 and what to check", async () => {
  const port = await freePort();
  const r = await hil(["runs"], { HIL_URL: `http://127.0.0.1:${port}`, HIL_TOKEN: "x" });
  assert.is(r.code, 2, r.out);
  assert.match(r.out, /no answer from http:\/\/127\.0\.0\.1:\d+/);
  assert.match(r.out, /is `npm run lab` running, or is HIL_URL/);
});

test("a token the lab rejects: exit 64 and what to check", async () => {
  const server = createServer((_req, res) => {
    res.writeHead(401, { "content-type": "application/json" });
    res.end(JSON.stringify({ error: "unknown or revoked token" }));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  try {
    const port = (server.address() as { port: number }).port;
    const r = await hil(["runs"], { HIL_URL: `http://127.0.0.1:${port}`, HIL_TOKEN: "stale" });
    assert.is(r.code, 64, r.out);
    assert.match(r.out, /list runs: HTTP 401: unknown or revoked token/, r.out);
    assert.match(r.out, /check HIL_TOKEN/, r.out);
  } finally {
    server.close();
  }
});

test("one table: each error code's exit code and hint", () => {
  assert.is(describeFailure(new LabError("QUEUE_TIMEOUT", "waited 24 h")).exit, EXIT.TIMED_OUT_OR_CANCELLED);
  assert.is(describeFailure(new LabError("BOARD_VANISHED", "gone")).exit, EXIT.INFRA);
  assert.is(describeFailure(new UsageError("--limit takes a number")).exit, EXIT.USAGE);
  assert.is(describeFailure(new UsageError("--limit takes a number")).text, "hil: --limit takes a number\n", "a usage error needs no hint");
  assert.is(describeFailure(new HilApiError("x: HTTP 503", 503)).exit, EXIT.INFRA);
  assert.is(describeFailure(new HilApiError("x: HTTP 409: taken", 409)).exit, EXIT.USAGE);
  assert.is(describeFailure(new Error("boom")).exit, EXIT.INFRA);
  const sync = describeFailure(new LabError("SYNC_FAILED", "no answer from the ROM loader"));
  assert.match(sync.text, /\n {2}→ the ROM loader did not answer/);
  for (const [code, entry] of Object.entries(FAILURES)) assert.ok((Object.values(EXIT) as number[]).includes(entry.exit), code);
});

test.run();
