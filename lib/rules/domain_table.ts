/**
 * Exact names and name suffixes in hash tables, so that a name is looked up once per label
 * (`a.b.example.com`: four probes) however many rules there are, instead of scanning a list.
 */

/**
 * How an entry matches: `exact` the name alone; `suffix` the name and every name under it
 * (mihomo's `DOMAIN-SUFFIX`, `+.name`); `below` only names under it (`.name`); `oneLabel`
 * names exactly one label under it (`*.name`).
 */
export type DomainKind = "exact" | "suffix" | "below" | "oneLabel";

/**
 * Names mapped to values; where several entries match a name, the lowest value wins (values
 * are rule positions, and the first rule wins).
 *
 * @example
 * ```ts
 * const table = new DomainTable();
 * table.add("suffix", "google.com", 0);
 * table.lookup("www.google.com"); // 0
 * table.lookup("google.co"); // -1
 * ```
 */
export class DomainTable {
  #exact = new Map<string, number>();
  #suffix = new Map<string, number>();
  #below = new Map<string, number>();
  #oneLabel = new Map<string, number>();

  /** Entries added. */
  size = 0;

  /** Adds `name` (lower case, no trailing dot) of `kind` with `value` (≥ 0). */
  add(kind: DomainKind, name: string, value: number): void {
    const map = kind === "exact"
      ? this.#exact
      : kind === "suffix"
      ? this.#suffix
      : kind === "below"
      ? this.#below
      : this.#oneLabel;
    const old = map.get(name);
    if (old === undefined || value < old) map.set(name, value);
    this.size++;
  }

  /** The lowest value of the entries that match `name` (lower case, no trailing dot), or -1. */
  lookup(name: string): number {
    let best = lower(this.#exact.get(name), lower(this.#suffix.get(name), -1));
    let dot = name.indexOf(".");
    if (dot >= 0) best = lower(this.#oneLabel.get(name.slice(dot + 1)), best);
    while (dot >= 0) {
      const parent = name.slice(dot + 1);
      best = lower(this.#below.get(parent), lower(this.#suffix.get(parent), best));
      dot = name.indexOf(".", dot + 1);
    }
    return best;
  }
}

/** The lower of a found value and the best so far (-1: none yet). */
function lower(found: number | undefined, best: number): number {
  return found !== undefined && (best < 0 || found < best) ? found : best;
}
