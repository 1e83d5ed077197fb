// `hil completion bash|zsh|fish`: a completion script made from the command tree itself, so it can
// never name a command or an option the CLI does not have.
import type { Command, Option } from "commander";
import { UsageError } from "@hil/contracts";

interface Node {
  /** Words after `hil`, space-separated ("" for the top). */
  path: string;
  subcommands: { name: string; about: string }[];
  options: { flag: string; about: string }[];
}

function walk(cmd: Command, path: string, out: Node[]): void {
  const visible = (o: Option) => !(o as Option & { hidden?: boolean }).hidden;
  out.push({
    path,
    subcommands: cmd.commands.map((c) => ({ name: c.name(), about: c.description() })),
    options: [
      ...cmd.options.filter(visible).flatMap((o) => [o.long, o.short].filter((f): f is string => !!f).map((flag) => ({ flag, about: o.description }))),
      { flag: "--help", about: "show help" },
    ],
  });
  for (const c of cmd.commands) walk(c, path ? `${path} ${c.name()}` : c.name(), out);
}

const shellQuote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

function bash(nodes: Node[]): string {
  const cases = nodes.map((n) => `    ${shellQuote(n.path)}) echo ${shellQuote([...n.subcommands.map((s) => s.name), ...n.options.map((o) => o.flag)].join(" "))} ;;`).join("\n");
  return `# hil completion for bash: eval "$(hil completion bash)" in ~/.bashrc
_hil_words() {
  case "$1" in
${cases}
  esac
}
_hil() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" path="" w i
  for ((i = 1; i < COMP_CWORD; i++)); do
    w="\${COMP_WORDS[i]}"
    [[ "$w" == -* ]] && continue
    # a word that is a subcommand here goes down a level; anything else is an option's value
    if [[ " $(_hil_words "$path") " == *" $w "* ]]; then path="\${path:+$path }$w"; fi
  done
  COMPREPLY=($(compgen -W "$(_hil_words "$path")" -- "$cur"))
}
complete -F _hil hil
`;
}

function zsh(nodes: Node[]): string {
  return `#compdef hil
# hil completion for zsh: eval "$(hil completion zsh)" in ~/.zshrc (uses zsh's bash completion layer)
autoload -U +X bashcompinit && bashcompinit
${bash(nodes).split("\n").slice(1).join("\n")}`;
}

function fish(nodes: Node[]): string {
  const lines = ["# hil completion for fish: hil completion fish > ~/.config/fish/completions/hil.fish", "complete -c hil -f"];
  for (const n of nodes) {
    const words = n.path ? n.path.split(" ") : [];
    // the node's own words typed, and none of its subcommands yet
    const cond = [
      words.length === 0 ? "__fish_use_subcommand" : `__fish_seen_subcommand_from ${words.at(-1)}`,
      ...(n.subcommands.length > 0 && words.length > 0 ? [`not __fish_seen_subcommand_from ${n.subcommands.map((s) => s.name).join(" ")}`] : []),
    ].join("; and ");
    for (const s of n.subcommands) lines.push(`complete -c hil -n ${shellQuote(cond)} -a ${shellQuote(s.name)} -d ${shellQuote(s.about.slice(0, 80))}`);
    for (const o of n.options) {
      const flag = o.flag.startsWith("--") ? `-l ${o.flag.slice(2)}` : `-s ${o.flag.slice(1)}`;
      lines.push(`complete -c hil -n ${shellQuote(cond)} ${flag} -d ${shellQuote(o.about.slice(0, 80))}`);
    }
  }
  return `${lines.join("\n")}\n`;
}

export function register(program: Command): void {
  program
    .command("completion")
    .description("Print a shell completion script for bash, zsh or fish")
    .argument("<shell>", "bash, zsh or fish")
    .addHelpText("after", '\nbash: eval "$(hil completion bash)" in ~/.bashrc\nzsh:  eval "$(hil completion zsh)" in ~/.zshrc\nfish: hil completion fish > ~/.config/fish/completions/hil.fish')
    .action((shell: string) => {
      const nodes: Node[] = [];
      walk(program, "", nodes);
      const make = { bash, zsh, fish }[shell as "bash" | "zsh" | "fish"];
      if (!make) throw new UsageError(`completion: unknown shell "${shell}" (bash, zsh or fish)`);
      process.stdout.write(make(nodes));
    });
}
