import { ScenarioSpecSchema, type ScenarioSpec, type ScenarioSpecInput } from "../virtual/esp32/firmware/scenario-spec.js";

/**
 * A test image can carry the scenario the virtual firmware runs: a marker, a u32 length and UTF-8
 * JSON, placed in the first data segment right after esp_app_desc_t. Real ESP-IDF ignores it (it is
 * just rodata), so such an image stays a valid app image.
 */
const MARKER = new TextEncoder().encode("HILSCEN1");

export function encodeScenarioBlob(scenario: ScenarioSpecInput): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(ScenarioSpecSchema.parse(scenario)));
  const out = new Uint8Array(MARKER.length + 4 + json.length);
  out.set(MARKER, 0);
  new DataView(out.buffer).setUint32(MARKER.length, json.length, true);
  out.set(json, MARKER.length + 4);
  return out;
}

export type ScenarioBlobResult = { found: false } | { found: true; scenario?: ScenarioSpec; problem?: string };

export function decodeScenarioBlob(bytes: Uint8Array): ScenarioBlobResult {
  if (bytes.length < MARKER.length + 4) return { found: false };
  for (let i = 0; i < MARKER.length; i++) if (bytes[i] !== MARKER[i]) return { found: false };
  const length = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(MARKER.length, true);
  const body = bytes.subarray(MARKER.length + 4, MARKER.length + 4 + length);
  if (body.length !== length) return { found: true, problem: `embedded scenario is cut short: ${body.length} of ${length} bytes` };
  try {
    const parsed = ScenarioSpecSchema.safeParse(JSON.parse(new TextDecoder().decode(body)));
    if (!parsed.success) return { found: true, problem: `embedded scenario is invalid: ${parsed.error.issues.map((i) => i.message).join("; ")}` };
    return { found: true, scenario: parsed.data };
  } catch (err) {
    return { found: true, problem: `embedded scenario is not JSON: ${(err as Error).message}` };
  }
}
