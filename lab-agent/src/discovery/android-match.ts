import type { AndroidProfile, DeviceProfile } from "@hil/device-profiles";

/** What discovery reads from an Android device (`getprop`) to choose its profile and, before each run, to re-check it. */
export interface AndroidProperties {
  /** ro.serialno ("" when the device does not set it). */
  serialno: string;
  /** ro.product.model */
  model: string;
  /** ro.product.name */
  product: string;
  /** ro.product.device */
  device: string;
  /** ro.build.version.sdk; undefined when it is not a number. */
  sdk: number | undefined;
}

/** `getprop` output (`[key]: [value]` per line) as a map; lines of any other shape are skipped. */
export function parseGetprop(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    const m = /^\[([^\]]+)\]: \[(.*)\]$/.exec(line.trim());
    if (m?.[1] !== undefined) out.set(m[1], m[2] ?? "");
  }
  return out;
}

export function androidPropertiesFrom(props: ReadonlyMap<string, string>): AndroidProperties {
  const sdk = Number(props.get("ro.build.version.sdk"));
  return {
    serialno: props.get("ro.serialno") ?? "",
    model: props.get("ro.product.model") ?? "",
    product: props.get("ro.product.name") ?? "",
    device: props.get("ro.product.device") ?? "",
    sdk: Number.isInteger(sdk) && sdk > 0 ? sdk : undefined,
  };
}

export function describeAndroid(p: AndroidProperties): string {
  return `model "${p.model}", product "${p.product}", device "${p.device}", SDK ${p.sdk ?? "?"}`;
}

export type AndroidMatch = { profile: AndroidProfile; alsoMatches: string[] } | { profile: undefined; reason: string };

type MatchSection = NonNullable<AndroidProfile["match"]>;

function fits(m: MatchSection, p: AndroidProperties): boolean {
  if (m.model !== undefined && m.model !== p.model) return false;
  if (m.product !== undefined && m.product !== p.product) return false;
  if (m.device !== undefined && m.device !== p.device) return false;
  if (m.minSdk !== undefined && (p.sdk === undefined || p.sdk < m.minSdk)) return false;
  if (m.maxSdk !== undefined && (p.sdk === undefined || p.sdk > m.maxSdk)) return false;
  return true;
}

/** How many properties a match section pins down: a profile for "Pixel 8 on SDK ≥ 34" beats one for any Pixel 8. */
function specificity(m: MatchSection): number {
  return [m.model, m.product, m.device, m.minSdk, m.maxSdk].filter((v) => v !== undefined).length;
}

/**
 * The Android profile for a device: among the profiles with a `match` section that every given property
 * fits, the most specific (ties: by id). Profiles without `match` are never chosen by discovery.
 */
export function matchAndroidProfile(props: AndroidProperties, profiles: Iterable<DeviceProfile>): AndroidMatch {
  const withMatch = [...profiles].filter((p): p is AndroidProfile & { match: MatchSection } => p.kind === "android" && p.match !== undefined);
  const fitting = withMatch
    .filter((p) => fits(p.match, props))
    .sort((a, b) => specificity(b.match) - specificity(a.match) || a.id.localeCompare(b.id));
  const [best, ...others] = fitting;
  if (best) return { profile: best, alsoMatches: others.map((p) => p.id) };
  const tried = withMatch.map((p) => p.id).sort();
  const where = tried.length > 0 ? `the match sections of ${tried.join(", ")}` : "no Android profile has a match section";
  return { profile: undefined, reason: `${describeAndroid(props)} fits no Android profile (${where}); add a profile with a match section for it` };
}
