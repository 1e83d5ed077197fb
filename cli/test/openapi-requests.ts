// Random and malformed HTTP requests generated with fast-check from the scheduler's own OpenAPI
// document: for each operation, path parameters, query strings, bodies and content types that
// range from valid-looking (drawn from the JSON Schemas) to hostile (traversal, NUL, huge, deep).
import fc from "fast-check";

type Json = Record<string, unknown>;

export interface Operation {
  method: string;
  /** OpenAPI path template, e.g. /api/v1/runs/{id}/cancel */
  path: string;
  params: string[];
  query: Record<string, Json>;
  body?: Json;
}

export interface FuzzRequest {
  op: Operation;
  path: string;
  method: string;
  headers: Record<string, string>;
  body?: string | Uint8Array;
}

export function operationsOf(doc: { paths: Record<string, Record<string, Json>> }): Operation[] {
  const ops: Operation[] = [];
  for (const [path, methods] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      const parameters = (op["parameters"] ?? []) as { name: string; in: string; schema: Json }[];
      const content = ((op["requestBody"] as Json | undefined)?.["content"] ?? {}) as Record<string, { schema: Json }>;
      const body = content["application/json"]?.schema;
      ops.push({
        method: method.toUpperCase(),
        path,
        params: parameters.filter((p) => p.in === "path").map((p) => p.name),
        query: Object.fromEntries(parameters.filter((p) => p.in === "query").map((p) => [p.name, p.schema])),
        ...(body ? { body } : {}),
      });
    }
  }
  return ops;
}

/** Values that fit a JSON Schema (loosely: patterns are not honoured, so many strings will not match). */
export function fromSchema(schema: Json | undefined, depth = 0): fc.Arbitrary<unknown> {
  if (!schema || depth > 6) return fc.jsonValue({ maxDepth: 2 });
  if ("const" in schema) return fc.constant(schema["const"]);
  if (Array.isArray(schema["enum"])) return fc.constantFrom(...(schema["enum"] as unknown[]));
  const alts = (schema["anyOf"] ?? schema["oneOf"]) as Json[] | undefined;
  if (alts?.length) return fc.oneof(...alts.map((s) => fromSchema(s, depth + 1)));
  const type = schema["type"];
  if (Array.isArray(type)) return fc.oneof(...type.map((t) => fromSchema({ ...schema, type: t as string }, depth + 1)));
  switch (type) {
    case "string":
      if (schema["format"] === "date-time") return fc.date({ noInvalidDate: true }).map((d) => d.toISOString());
      return fc.string({ minLength: Number(schema["minLength"] ?? 0), maxLength: Math.min(Number(schema["maxLength"] ?? 24), 64) });
    case "integer":
      return fc.integer({ min: Math.max(Number(schema["minimum"] ?? -1e9), -(2 ** 31)), max: Math.min(Number(schema["maximum"] ?? 1e9), 2 ** 31) });
    case "number":
      return fc.double({ noNaN: true, min: Number(schema["minimum"] ?? -1e12), max: Number(schema["maximum"] ?? 1e12) });
    case "boolean":
      return fc.boolean();
    case "null":
      return fc.constant(null);
    case "array":
      return fc.array(fromSchema(schema["items"] as Json | undefined, depth + 1), { maxLength: 3 });
    case "object": {
      const props = (schema["properties"] ?? {}) as Record<string, Json>;
      const required = (schema["required"] ?? []) as string[];
      return fc.record(
        Object.fromEntries(Object.entries(props).map(([k, v]) => [k, fromSchema(v, depth + 1)])),
        { requiredKeys: required.filter((k) => k in props) },
      );
    }
    default:
      return fc.jsonValue({ maxDepth: 2 });
  }
}

/** A valid-looking value, then sometimes broken: a field dropped, an unknown one added, a type swapped. */
function mutated(schema: Json | undefined): fc.Arbitrary<unknown> {
  const base = fromSchema(schema);
  return fc.oneof(
    { weight: 3, arbitrary: base },
    {
      weight: 2,
      arbitrary: fc.tuple(base, fc.string({ maxLength: 12 }), fc.jsonValue({ maxDepth: 2 })).map(([v, k, extra]) => {
        if (typeof v !== "object" || v === null || Array.isArray(v)) return v;
        const copy: Record<string, unknown> = { ...(v as Record<string, unknown>) };
        const keys = Object.keys(copy);
        if (keys.length && k.length % 3 === 0) delete copy[keys[k.length % keys.length] ?? ""];
        else if (keys.length && k.length % 3 === 1) copy[keys[0] ?? ""] = extra;
        else copy[k || "extra"] = extra;
        return copy;
      }),
    },
    { weight: 1, arbitrary: fc.constantFrom(1e20, -1, 1e308, -0, Number.MAX_SAFE_INTEGER + 2, "1e20", "", "x".repeat(100_000), [], {}, null, true) },
    { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 4 }) },
  );
}

const NASTY_SEGMENTS = [
  "..", "../..", "..%2F..%2F..%2Fetc%2Fpasswd", "%2e%2e%2f%2e%2e%2fescape", "%00", "a%00b", "%", "%E0%A4%A", "%ff%fe",
  encodeURIComponent("é ü 中文 😀"), "x".repeat(5000), "-1", "1e309", "NaN", "constructor", "__proto__", "prototype",
  "0000000000000000000000000000000000000000000000000000000000000000", "../../../../tmp/owned", "%2e%2e", ".",
];

export function requests(ops: Operation[], tokens: string[], known: Record<string, string[]>): fc.Arbitrary<FuzzRequest> {
  const segment = (name: string) =>
    fc.oneof(
      { weight: 3, arbitrary: fc.constantFrom(...(known[name] ?? ["x"])) },
      { weight: 3, arbitrary: fc.constantFrom(...NASTY_SEGMENTS) },
      { weight: 2, arbitrary: fc.string({ unit: "grapheme", maxLength: 40 }).map((s) => encodeURIComponent(s) || "-") },
    );
  const contentType = fc.constantFrom(
    "application/json", "application/json", "application/json; charset=utf-16", "text/plain", "multipart/form-data",
    "multipart/form-data; boundary=zzz", "application/x-www-form-urlencoded", "application/octet-stream", "",
  );
  const bodyText = (op: Operation) =>
    fc.oneof(
      { weight: 6, arbitrary: mutated(op.body).map((v) => JSON.stringify(v) ?? "null") },
      { weight: 1, arbitrary: fc.integer({ min: 10, max: 200_000 }).map((n) => "[".repeat(n) + "]".repeat(n)) },
      { weight: 1, arbitrary: fc.integer({ min: 10, max: 50_000 }).map((n) => `${'{"a":'.repeat(n)}1${"}".repeat(n)}`) },
      { weight: 1, arbitrary: fc.string({ maxLength: 200 }) },
      { weight: 1, arbitrary: fc.constantFrom('{"suite":', "\u0000\u0001", "--zzz\r\nContent-Disposition: form-data; name=\"request\"\r\n\r\n{}\r\n", "--zzz--", "null", "") },
    );
  const query = (op: Operation) =>
    fc
      .tuple(
        fc.record(Object.fromEntries(Object.entries(op.query).map(([k, s]) => [k, fc.oneof(fromSchema(s), fc.constantFrom("-1", "1e999", "abc", "", "9".repeat(400)))])), { requiredKeys: [] }),
        fc.option(fc.tuple(fc.string({ maxLength: 10 }), fc.string({ maxLength: 10 })), { freq: 4 }),
      )
      .map(([q, extra]) => {
        const p = new URLSearchParams();
        for (const [k, v] of Object.entries(q)) p.append(k, typeof v === "string" ? v : JSON.stringify(v));
        if (extra) p.append(extra[0] || "unknown", extra[1]);
        const s = p.toString();
        return s ? `?${s}` : "";
      });

  return fc.constantFrom(...ops).chain((op) =>
    fc
      .record({
        segments: fc.tuple(...op.params.map((name) => segment(name))),
        query: query(op),
        token: fc.constantFrom(...tokens),
        contentType,
        body: op.method === "GET" || op.method === "HEAD" ? fc.constant(undefined) : fc.option(bodyText(op), { freq: 8 }),
      })
      .map(({ segments, query: q, token, contentType: ct, body }) => {
        let path = op.path;
        op.params.forEach((name, i) => (path = path.replace(`{${name}}`, segments[i] ?? "")));
        const headers: Record<string, string> = {};
        if (token) headers["authorization"] = `Bearer ${token}`;
        if (body !== undefined && body !== null && ct) headers["content-type"] = ct;
        return { op, path: path + q, method: op.method, headers, ...(body !== undefined && body !== null ? { body } : {}) };
      }),
  );
}
