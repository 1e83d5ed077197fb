// The boards page's search box: `field:value` terms (AND), bare words match any field.
//   profile:esp32-virtual state:idle holder:me   ·   "agent:lab-1 esp32"   ·   -state:offline (not)

export interface SearchTerm {
  /** undefined: a bare word, matched against every field */
  field?: string;
  value: string;
  negate: boolean;
}

export function parseSearch(input: string): SearchTerm[] {
  const terms: SearchTerm[] = [];
  const re = /(-?)(?:([A-Za-z]+):)?(?:"([^"]*)"|(\S+))/g;
  for (let m = re.exec(input); m; m = re.exec(input)) {
    const value = (m[3] ?? m[4] ?? "").toLowerCase();
    if (value === "" && !m[2]) continue;
    terms.push({ ...(m[2] ? { field: m[2].toLowerCase() } : {}), value, negate: m[1] === "-" });
  }
  return terms;
}

/**
 * Whether a row matches every term. `fields` maps field names (and aliases) to the row's text; `me`
 * stands for the signed-in name in `holder:me` / `submitter:me`. Field values match by prefix, bare
 * words anywhere in any field. An unknown field matches nothing (so a typo shows an empty list, not all).
 */
export function matches(fields: Record<string, string | undefined>, terms: readonly SearchTerm[], me?: string): boolean {
  return terms.every((t) => {
    let hit: boolean;
    if (t.field === undefined) hit = Object.values(fields).some((v) => v !== undefined && v.toLowerCase().includes(t.value));
    else {
      const v = fields[t.field];
      const want = t.value === "me" && me ? me.toLowerCase() : t.value;
      hit = v !== undefined && (want === "" ? v === "" : v.toLowerCase().startsWith(want));
      if (!(t.field in fields)) hit = false;
    }
    return t.negate ? !hit : hit;
  });
}
