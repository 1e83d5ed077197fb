import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Document } from "yaml";

/** A parsed YAML file that can say on which line a field path lives. */
export class YamlLocator {
  private constructor(
    private readonly doc: Document,
    private readonly lines: LineCounter,
  ) {}

  /** Parses `text`; syntax errors come back with their lines instead of throwing. */
  static parse(text: string): { locator: YamlLocator; data: unknown; syntaxErrors: { line: number; message: string }[] } {
    const lines = new LineCounter();
    const doc = parseDocument(text, { lineCounter: lines, prettyErrors: true });
    const locator = new YamlLocator(doc, lines);
    const syntaxErrors = doc.errors.map((e) => ({
      line: e.linePos?.[0].line ?? locator.lineAt(e.pos[0]),
      // prettyErrors appends a code frame after the first line; the line number already points there.
      message: `YAML syntax: ${(e.message.split("\n")[0] ?? e.message).replace(/ at line \d+, column \d+:?$/, "")}`,
    }));
    return { locator, data: syntaxErrors.length > 0 ? undefined : doc.toJS(), syntaxErrors };
  }

  /**
   * Line of the deepest node on `path` that exists. For a map entry that is the key's line, so an
   * unknown key points at itself and a missing key points at its parent mapping's key.
   */
  lineOf(path: readonly PropertyKey[]): number {
    let node: unknown = this.doc.contents;
    let line = this.startLine(node);
    for (const seg of path) {
      if (isMap(node)) {
        const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(seg));
        if (!pair) break;
        if (isScalar(pair.key) && pair.key.range) line = this.lineAt(pair.key.range[0]);
        node = pair.value;
      } else if (isSeq(node) && typeof seg === "number") {
        const item: unknown = node.items[seg];
        if (item === undefined) break;
        line = this.startLine(item) || line;
        node = item;
      } else {
        break;
      }
    }
    return line;
  }

  private startLine(node: unknown): number {
    if (node !== null && typeof node === "object" && "range" in node && Array.isArray(node.range)) {
      const start: unknown = node.range[0];
      if (typeof start === "number") return this.lineAt(start);
    }
    return 1;
  }

  private lineAt(offset: number): number {
    return this.lines.linePos(offset).line;
  }
}
