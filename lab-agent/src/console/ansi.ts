// CSI sequences (colours, cursor moves) and OSC titles: kept in the raw log for xterm.js, removed
// before any pattern from a suite or profile sees the text.
const ANSI_RE = /\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]/g;

export function stripAnsi(text: string): string {
  return text.replace(ANSI_RE, "");
}
