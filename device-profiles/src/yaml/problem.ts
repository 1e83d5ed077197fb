/** One thing wrong with a data file, pointing at the line to fix. */
export interface Problem {
  file: string;
  /** 1-based; 0 when the file could not be read at all. */
  line: number;
  /** Field path such as `usb[0].vendorId`; empty for file-level problems (YAML syntax). */
  path: string;
  message: string;
}

/** `FILE:LINE: field.path: what is wrong` (the path part is left out when there is none). */
export function formatProblem(p: Problem): string {
  return p.path === "" ? `${p.file}:${p.line}: ${p.message}` : `${p.file}:${p.line}: ${p.path}: ${p.message}`;
}

/** ["usb", 0, "vendorId"] → "usb[0].vendorId" */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const seg of path) {
    if (typeof seg === "number") out += `[${seg}]`;
    else out += out === "" ? String(seg) : `.${String(seg)}`;
  }
  return out;
}

export function sortProblems(problems: Problem[]): Problem[] {
  return problems.sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line || a.path.localeCompare(b.path));
}
