/**
 * The offline GeoIP database gives the countries of well-known public addresses (lookups
 * only: no traffic), and a GEOIP rule uses it; an engine without GEOIP never loads it.
 */
import { assert, assertEquals } from "../_assert.ts";
import { loadGeoIp, parseRulesFile, RuleEngine } from "../../lib/rules/mod.ts";

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
