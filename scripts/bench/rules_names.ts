/** The rules the rules benchmarks load: many deterministic domain names, as suffix lists hold. */

/** The `i`-th name: 2–3 labels of letters and digits under one of five top-level domains. */
export function benchName(i: number): string {
  const label = (n: number) => (n * 2654435761 >>> 0).toString(36).slice(0, 4 + (n % 6));
  return `${label(i)}${i % 3 ? `.${label(i + 7)}` : ""}.${
    ["com", "net", "org", "cn", "io"][i % 5]
  }`;
}

/**
 * `count` `DOMAIN-SUFFIX` rules as lines of a `rules:` list, every other one `DIRECT` and the
 * rest `REJECT`, so that no destination the benchmarks use matches them (none ends in these
 * names).
 */
export function domainRuleLines(count: number): string[] {
  const lines: string[] = [];
  for (let i = 0; i < count; i++) {
    lines.push(`  - DOMAIN-SUFFIX,${benchName(i)},${i % 2 ? "DIRECT" : "REJECT"}`);
  }
  return lines;
}
