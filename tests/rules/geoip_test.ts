/**
 * The offline GeoIP database gives the countries of well-known public addresses (lookups
 * only: no traffic), and a GEOIP rule uses it; an engine without GEOIP never loads it.
 */
import { assert, assertEquals } from "../_assert.ts";
import { loadGeoIp, parseRulesFile, RuleEngine } from "../../lib/rules/mod.ts";
import { ipKey } from "../../lib/rules/range_table.ts";

Deno.test("GeoIP: well-known public addresses are in their countries", async () => {
  const geo = await loadGeoIp();
  const cases: [string, string | null][] = [
    ["8.8.8.8", "US"], // Google Public DNS
    ["114.114.114.114", "CN"], // 114DNS
    ["223.5.5.5", "CN"], // AliDNS
    ["2001:4860:4860::8888", "US"], // Google Public DNS, IPv6
    ["2400:3200::1", "CN"], // AliDNS, IPv6
    ["::ffff:8.8.8.8", "US"], // IPv4-mapped: its IPv4 address
    ["127.0.0.1", null],
    ["10.0.0.1", null],
    ["::1", null],
    ["not an address", null],
  ];
  for (const [ip, country] of cases) assertEquals(geo.country(ip), country, ip);
  // 1.1.1.1 is registered to APNIC's research range (AU in the WHOIS data), not where it is served.
  assertEquals(geo.country("1.1.1.1"), "AU");
  assert(geo.ranges > 300_000, `${geo.ranges} ranges`);
  assert(await loadGeoIp() === geo, "loaded once per process");
});

Deno.test("GeoIP: a GEOIP rule decides by country, GEOIP,LAN by private ranges", async () => {
  const file = parseRulesFile(
    "rules:\n  - GEOIP,LAN,DIRECT\n  - GEOIP,CN,DIRECT\n  - GEOIP,US,REJECT,no-resolve\n  - MATCH,PROXY\n",
    "r",
  );
  const engine = await RuleEngine.create(file, new Map());
  assert(engine.geoIp !== null);
  const at = async (ip: string) => (await engine.decide({ ip, port: 443, network: "tcp" })).rule;
  assertEquals(await at("192.168.1.1"), "GEOIP,LAN,DIRECT");
  assertEquals(await at("127.0.0.1"), "GEOIP,LAN,DIRECT");
  assertEquals(await at("114.114.114.114"), "GEOIP,CN,DIRECT");
  assertEquals(await at("8.8.8.8"), "GEOIP,US,REJECT,no-resolve");
  assertEquals(await at("2001:4860:4860::8888"), "GEOIP,US,REJECT,no-resolve");
  assertEquals(await at("1.1.1.1"), "MATCH,PROXY");
  // A name resolves at the first rule that needs its address; a no-resolve rule after it then
  // sees the address too (as mihomo does).
  const resolve = (name: string) =>
    Promise.resolve(name === "cn.test" ? ["223.5.5.5"] : ["8.8.4.4"]);
  assertEquals(
    (await engine.decide({ host: "cn.test", port: 443, network: "tcp" }, resolve)).rule,
    "GEOIP,CN,DIRECT",
  );
  assertEquals(
    (await engine.decide({ host: "us.test", port: 443, network: "tcp" }, resolve)).rule,
    "GEOIP,US,REJECT,no-resolve",
  );
  // LAN needs no database.
  const lanOnly = await RuleEngine.create(
    parseRulesFile("rules:\n  - GEOIP,LAN,DIRECT\n", "r"),
    new Map(),
  );
  assertEquals(lanOnly.geoIp, null);
});

Deno.test("GeoIP: the first and last address of 4,000 ranges of the CSV, and ranges inside ranges, give their country", async () => {
  const geo = await loadGeoIp();
  // The package's files, read here as plain text lines (the module scans their bytes instead).
  const read = async (file: string) =>
    (await Deno.readTextFile(
      new URL(import.meta.resolve(`@ip-location-db/geo-whois-asn-country/${file}`)),
    )).split("\n").filter((l) => l);
  const dotted = (n: number) => [24, 16, 8, 0].map((s) => (n >>> s) & 255).join(".");
  const v4 = (await read("geo-whois-asn-country-ipv4-num.csv")).map((line) => {
    const [first, last, code] = line.split(",") as [string, string, string];
    return { line, first: dotted(Number(first)), last: dotted(Number(last)), code };
  });
  const v6 = (await read("geo-whois-asn-country-ipv6.csv")).map((line) => {
    const [first, last, code] = line.split(",") as [string, string, string];
    return { line, first, last, code };
  });
  const order = (ip: string) => {
    const key = ipKey(ip)!;
    return Array.from(key.words, (w) => w.toString(16).padStart(8, "0")).join("");
  };
  let checked = 0, overlapping = 0;
  for (const ranges of [v4, v6]) {
    for (let k = 0; k < 2000; k++) {
      // Spread over the whole file, the first and last lines included.
      const i = Math.round(k * (ranges.length - 1) / 1999);
      const { line, first, last, code } = ranges[i]!;
      // The data has thousands of ranges inside others (a more specific registration): left
      // out here (which line holds an address is then not the line alone), checked below.
      const before = ranges[i - 1], after = ranges[i + 1];
      if (
        (before && order(before.last) >= order(first)) ||
        (after && order(after.first) <= order(last))
      ) {
        overlapping++;
        continue;
      }
      assertEquals(geo.country(first), code, line);
      assertEquals(geo.country(last), code, line);
      checked++;
    }
  }
  assert(checked > 3900, `${checked} checked, ${overlapping} overlapping`);
  // Ranges inside a range (lines 925-928 of the IPv4 file): 50471680-50471743 DE holds
  // 50471720-50471727 TR and 50471728-50471735 GR; the outer one's country holds around them.
  const nested: [number, string][] = [
    [50471680, "DE"],
    [50471719, "DE"],
    [50471720, "TR"],
    [50471727, "TR"],
    [50471728, "GR"],
    [50471735, "GR"],
    [50471736, "DE"],
    [50471743, "DE"],
  ];
  for (const [n, code] of nested) assertEquals(geo.country(dotted(n)), code, `${n}`);
});
