/**
 * The subset of mksh syntax that adb clients and CI scripts send: words with '…', "…" and \
 * quoting, $VAR / ${VAR} / $? expansion, `;` `&&` `||` `|`, and redirections (`>f`, `>>f`, `<f`,
 * `2>/dev/null`, `2>&1`). adb itself single-quotes every argument (`escape_arg`).
 */

export interface Redirect {
  fd: number;
  op: ">" | ">>" | "<" | ">&";
  target: string;
}

export interface SimpleCommand {
  /** `NAME=value` words before the command name. */
  assignments: [string, string][];
  argv: string[];
  redirects: Redirect[];
}

export interface Pipeline {
  commands: SimpleCommand[];
}

export interface AndOrList {
  first: Pipeline;
  rest: { op: "&&" | "||"; pipeline: Pipeline }[];
}

export class ShellSyntaxError extends Error {
  override readonly name = "ShellSyntaxError";
}

type Token = { kind: "word"; value: string } | { kind: "op"; value: ";" | "&&" | "||" | "|" } | { kind: "redir"; redirect: Omit<Redirect, "target"> & { target?: string } };

export function tokenize(line: string, env: (name: string) => string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  let word: string | null = null;
  const flush = (): void => {
    if (word !== null) tokens.push({ kind: "word", value: word });
    word = null;
  };
  const expand = (): string => {
    // At line[i] === "$".
    const rest = line.slice(i + 1);
    const braced = /^\{([A-Za-z_][A-Za-z0-9_]*)\}/.exec(rest);
    const plain = /^([A-Za-z_][A-Za-z0-9_]*|\?)/.exec(rest);
    const m = braced ?? plain;
    if (!m) {
      i += 1;
      return "$";
    }
    i += 1 + m[0].length;
    return env(m[1]!);
  };
  while (i < line.length) {
    const c = line[i]!;
    if (c === " " || c === "\t" || c === "\n") {
      flush();
      i++;
    } else if (c === "'") {
      const end = line.indexOf("'", i + 1);
      if (end < 0) throw new ShellSyntaxError("unterminated '");
      word = (word ?? "") + line.slice(i + 1, end);
      i = end + 1;
    } else if (c === '"') {
      let s = "";
      i++;
      while (i < line.length && line[i] !== '"') {
        if (line[i] === "\\" && i + 1 < line.length && '"\\$`'.includes(line[i + 1]!)) {
          s += line[i + 1];
          i += 2;
        } else if (line[i] === "$") s += expand();
        else s += line[i++];
      }
      if (i >= line.length) throw new ShellSyntaxError('unterminated "');
      i++;
      word = (word ?? "") + s;
    } else if (c === "\\") {
      word = (word ?? "") + (line[i + 1] ?? "");
      i += 2;
    } else if (c === "$") {
      word = (word ?? "") + expand();
    } else if (c === ";" || c === "&" || c === "|") {
      flush();
      const two = line.slice(i, i + 2);
      if (two === "&&" || two === "||") {
        tokens.push({ kind: "op", value: two });
        i += 2;
      } else if (c === "&") {
        // Background jobs are not modelled; run in the foreground.
        i += 1;
      } else {
        tokens.push({ kind: "op", value: c });
        i += 1;
      }
    } else if (c === ">" || c === "<") {
      let fd = c === ">" ? 1 : 0;
      if (word !== null && /^\d$/.test(word)) {
        fd = Number(word);
        word = null;
      }
      flush();
      let op: Redirect["op"] = c;
      i++;
      if (c === ">" && line[i] === ">") {
        op = ">>";
        i++;
      } else if (c === ">" && line[i] === "&") {
        op = ">&";
        i++;
      }
      tokens.push({ kind: "redir", redirect: { fd, op } });
    } else {
      word = (word ?? "") + c;
      i++;
    }
  }
  flush();
  return tokens;
}

/** Parses a command line into `;`-separated and-or lists. */
export function parseShell(line: string, env: (name: string) => string): AndOrList[] {
  const tokens = tokenize(line, env);
  const lists: AndOrList[] = [];
  let pos = 0;
  const parseCommand = (): SimpleCommand => {
    const cmd: SimpleCommand = { assignments: [], argv: [], redirects: [] };
    while (pos < tokens.length) {
      const t = tokens[pos]!;
      if (t.kind === "op") break;
      pos++;
      if (t.kind === "redir") {
        const target = tokens[pos];
        if (target?.kind !== "word") throw new ShellSyntaxError("syntax error: redirection without a target");
        pos++;
        cmd.redirects.push({ ...t.redirect, target: target.value });
      } else if (cmd.argv.length === 0 && /^[A-Za-z_][A-Za-z0-9_]*=/.test(t.value)) {
        const eq = t.value.indexOf("=");
        cmd.assignments.push([t.value.slice(0, eq), t.value.slice(eq + 1)]);
      } else cmd.argv.push(t.value);
    }
    return cmd;
  };
  const parsePipeline = (): Pipeline => {
    const commands = [parseCommand()];
    while (tokens[pos]?.kind === "op" && (tokens[pos] as { value: string }).value === "|") {
      pos++;
      commands.push(parseCommand());
    }
    return { commands };
  };
  while (pos < tokens.length) {
    const t = tokens[pos]!;
    if (t.kind === "op" && t.value === ";") {
      pos++;
      continue;
    }
    const list: AndOrList = { first: parsePipeline(), rest: [] };
    for (;;) {
      const op = tokens[pos];
      if (op?.kind !== "op" || (op.value !== "&&" && op.value !== "||")) break;
      pos++;
      list.rest.push({ op: op.value, pipeline: parsePipeline() });
    }
    lists.push(list);
    const next = tokens[pos];
    if (next && !(next.kind === "op" && next.value === ";")) throw new ShellSyntaxError(`syntax error near unexpected '${next.kind === "op" ? next.value : "word"}'`);
  }
  return lists;
}
