import { readFileSync } from "node:fs";
import type { Command } from "commander";
import { connect, table } from "../client/index.js";
import { TOKEN_FILE_FLAG, TOKEN_FILE_HELP } from "../client/connect.js";
import { parseLabels } from "../labels.js";
import { UsageError } from "@hil/contracts";

interface Conn {
  url?: string;
  tokenFile?: string;
}

interface TokenView {
  id: string;
  name: string;
  role: string;
  kind: string;
  scope: { profiles?: string[]; labels?: Record<string, string> };
  maxPriority?: number;
  createdAt: number;
  createdBy: string;
  expiresAt?: number;
  revokedAt?: number;
  lastUsedAt?: number;
}

const when = (ms: number | undefined) => (ms === undefined ? "-" : new Date(ms).toISOString().replace(/\.\d+Z$/, "Z"));

function scopeText(t: TokenView): string {
  const parts = [...(t.scope.profiles ?? []), ...Object.entries(t.scope.labels ?? {}).map(([k, v]) => `${k}=${v}`)];
  return parts.length ? parts.join(",") : "*";
}

function withConn(cmd: Command): Command {
  return cmd.option("--url <url>", "lab URL (default: $HIL_URL or .hil/lab.env)").option(TOKEN_FILE_FLAG, TOKEN_FILE_HELP);
}

/** A password never comes from argv: a file, or the first line of stdin. */
function readPassword(opts: { passwordFile?: string; passwordStdin?: boolean }): string {
  if (opts.passwordFile) return readFileSync(opts.passwordFile, "utf8").replace(/\r?\n$/, "");
  if (opts.passwordStdin) return (readFileSync(0, "utf8").split(/\r?\n/)[0] ?? "").trim();
  throw new UsageError("give the password with --password-file FILE or --password-stdin");
}

export function register(program: Command): void {
  const tokens = program.command("tokens").description("API tokens (admin): create, list, revoke");

  withConn(
    tokens
      .command("create")
      .description("Create a token; it is printed once (store it in your CI's secret store)")
      .requiredOption("--name <name>", "who the token stands for, e.g. gitlab-main (its runs and bookings carry this name)")
      .requiredOption("--role <role>", "viewer, qa, ci, admin, or agent (a lab agent's own credential)")
      .option("--profiles <globs>", "only boards of these profiles, comma list (e.g. esp32-*)")
      .option("--labels <k=v>", "only boards with these labels, comma list", (v: string, prev: string[] = []) => [...prev, v])
      .option("--max-priority <n>", "highest run priority it may ask for (default 50; admin 100)")
      .option("--expires-in <duration>", "ends on its own after this long, e.g. 90d")
      .option("--json", "print the whole record as JSON"),
  ).action(async (opts: Conn & { name: string; role: string; profiles?: string; labels?: string[]; maxPriority?: string; expiresIn?: string; json?: boolean }) => {
    const body: Record<string, unknown> = { name: opts.name, role: opts.role };
    if (opts.profiles) body["profiles"] = opts.profiles.split(",").map((s) => s.trim()).filter(Boolean);
    if (opts.labels) body["labels"] = parseLabels(opts.labels);
    if (opts.maxPriority !== undefined) {
      if (!/^\d+$/.test(opts.maxPriority)) throw new UsageError(`--max-priority takes 0..100 (got "${opts.maxPriority}")`);
      body["maxPriority"] = Number(opts.maxPriority);
    }
    if (opts.expiresIn) body["expiresIn"] = opts.expiresIn;
    const out = (await connect(opts).request("POST", "/api/v1/tokens", "creating the token", body)) as TokenView & { token: string };
    if (opts.json) return void process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
    process.stdout.write(`${out.token}\n`);
    process.stderr.write(`token ${out.id} for ${out.name} (role ${out.role}, scope ${scopeText(out)}): shown once, keep it secret\n`);
  });

  withConn(tokens.command("list").description("List tokens (never their secrets)").option("--sessions", "include dashboard sign-ins").option("--json", "print JSON")).action(
    async (opts: Conn & { sessions?: boolean; json?: boolean }) => {
      const out = (await connect(opts).request("GET", `/api/v1/tokens${opts.sessions ? "?sessions=1" : ""}`, "listing tokens")) as { tokens: TokenView[] };
      if (opts.json) return void process.stdout.write(`${JSON.stringify(out.tokens, null, 2)}\n`);
      const rows = out.tokens.map((t) => [
        t.id,
        t.name,
        t.role,
        scopeText(t),
        t.revokedAt !== undefined ? "revoked" : t.expiresAt !== undefined && t.expiresAt <= Date.now() ? "expired" : "active",
        when(t.createdAt),
        when(t.lastUsedAt),
      ]);
      process.stdout.write(table(["ID", "NAME", "ROLE", "SCOPE", "STATE", "CREATED", "LAST USED"], rows));
    },
  );

  withConn(tokens.command("revoke").description("Revoke a token; it stops working at once").argument("<id>", "token id (from hil tokens list)")).action(async (id: string, opts: Conn) => {
    const out = (await connect(opts).request("POST", `/api/v1/tokens/${encodeURIComponent(id)}/revoke`, "revoking the token")) as TokenView;
    process.stdout.write(`token ${out.id} (${out.name}) revoked\n`);
  });

  const users = program.command("users").description("People's accounts for the dashboard (admin)");
  withConn(
    users
      .command("add")
      .description("Create an account")
      .argument("<name>", "account name")
      .requiredOption("--role <role>", "viewer, qa, ci or admin")
      .option("--password-file <path>", "file holding the password")
      .option("--password-stdin", "read the password from standard input"),
  ).action(async (name: string, opts: Conn & { role: string; passwordFile?: string; passwordStdin?: boolean }) => {
    const password = readPassword(opts);
    await connect(opts).request("POST", "/api/v1/users", "creating the account", { name, role: opts.role, password });
    process.stdout.write(`account ${name} created (role ${opts.role})\n`);
  });
  withConn(users.command("list").description("List accounts").option("--json", "print JSON")).action(async (opts: Conn & { json?: boolean }) => {
    const out = (await connect(opts).request("GET", "/api/v1/users", "listing accounts")) as { users: { name: string; role: string; createdAt: number; disabledAt?: number }[] };
    if (opts.json) return void process.stdout.write(`${JSON.stringify(out.users, null, 2)}\n`);
    process.stdout.write(table(["NAME", "ROLE", "STATE", "CREATED"], out.users.map((u) => [u.name, u.role, u.disabledAt ? "disabled" : "active", when(u.createdAt)])));
  });
  withConn(
    users
      .command("set")
      .description("Change an account's role or password, or disable/enable it")
      .argument("<name>", "account name")
      .option("--role <role>", "new role")
      .option("--password-file <path>", "new password from a file")
      .option("--password-stdin", "new password from standard input")
      .option("--disable", "refuse its sign-ins")
      .option("--enable", "allow its sign-ins again"),
  ).action(async (name: string, opts: Conn & { role?: string; passwordFile?: string; passwordStdin?: boolean; disable?: boolean; enable?: boolean }) => {
    const body: Record<string, unknown> = {};
    if (opts.role) body["role"] = opts.role;
    if (opts.passwordFile || opts.passwordStdin) body["password"] = readPassword(opts);
    if (opts.disable) body["disabled"] = true;
    if (opts.enable) body["disabled"] = false;
    await connect(opts).request("PATCH", `/api/v1/users/${encodeURIComponent(name)}`, "changing the account", body);
    process.stdout.write(`account ${name} changed\n`);
  });
  withConn(users.command("remove").description("Delete an account and end its sign-ins").argument("<name>", "account name")).action(async (name: string, opts: Conn) => {
    await connect(opts).request("DELETE", `/api/v1/users/${encodeURIComponent(name)}`, "removing the account");
    process.stdout.write(`account ${name} removed\n`);
  });

  withConn(
    program
      .command("audit")
      .description("Who did what and when (admin): tokens, bookings, cancels, quarantine, console and flash")
      .option("--actor <name>", "only this caller")
      .option("--action <action>", "only this action, e.g. run.cancel")
      .option("--target <id>", "only this board, run, booking or token")
      .option("--limit <n>", "how many, newest first (1..1000)", "50")
      .option("--json", "print JSON"),
  ).action(async (opts: Conn & { actor?: string; action?: string; target?: string; limit: string; json?: boolean }) => {
    const params = new URLSearchParams({ limit: opts.limit });
    if (opts.actor) params.set("actor", opts.actor);
    if (opts.action) params.set("action", opts.action);
    if (opts.target) params.set("target", opts.target);
    type Entry = { id: string; at: number; actor: string; role: string; action: string; target?: string; detail?: Record<string, unknown> };
    const out = (await connect(opts).request("GET", `/api/v1/audit?${params}`, "reading the audit log")) as { entries: Entry[] };
    if (opts.json) return void process.stdout.write(`${JSON.stringify(out.entries, null, 2)}\n`);
    const rows = out.entries.map((e) => [when(e.at), e.actor, e.role, e.action, e.target ?? "-", e.detail ? JSON.stringify(e.detail) : ""]);
    process.stdout.write(table(["AT", "ACTOR", "ROLE", "ACTION", "TARGET", "DETAIL"], rows));
  });

  withConn(program.command("whoami").description("Who the lab takes you for: name, role, scope").option("--json", "print JSON")).action(async (opts: Conn & { json?: boolean }) => {
    const me = (await connect(opts).request("GET", "/api/v1/me", "asking who I am")) as { name: string; role: string; via: string; maxPriority: number; scope: TokenView["scope"] };
    if (opts.json) return void process.stdout.write(`${JSON.stringify(me, null, 2)}\n`);
    const scope = scopeText({ scope: me.scope } as TokenView);
    process.stdout.write(`${me.name} (role ${me.role}, via ${me.via}, scope ${scope}, max priority ${me.maxPriority})\n`);
  });
}
