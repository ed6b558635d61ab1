/** The `trojan://` share link: the exact format clients read, and what parsing refuses. */
import { assert, assertEquals, assertThrows } from "../_assert.ts";
import { formatShareLink, parseShareLink } from "../../lib/protocol/share_link.ts";
import { ProtocolError } from "../../lib/protocol/errors.ts";

const PIN = "ab".repeat(32);

Deno.test("a link is formatted as v2rayN, Shadowrocket and mihomo read it", () => {
  const link = {
    user: "ann",
    password: "p@ss w:rd/+",
    host: "vpn.example.org",
    port: 8443,
    sni: "vpn.example.org",
    pin: PIN,
    label: "ann@vpn.example.org",
  };
  const text = formatShareLink(link);
  assertEquals(
    text,
    "trojan://ann%3Ap%40ss%20w%3Ard%2F%2B@vpn.example.org:8443?security=tls&sni=vpn.example.org" +
      `&type=tcp&allowInsecure=0&pcs=${PIN}#ann%40vpn.example.org`,
  );
  assertEquals(parseShareLink(text), link);
});

Deno.test("an IPv6 host is bracketed, and read back", () => {
  const link = { user: "bo", password: "secret-1", host: "2001:db8::1", port: 443, sni: "x.org" };
  const text = formatShareLink({ ...link, label: "bo" });
  assertEquals(text.split("?")[0], "trojan://bo%3Asecret-1@[2001:db8::1]:443");
  assertEquals(parseShareLink(text), { ...link, label: "bo" });
});

Deno.test("a pin with colons and capitals (openssl's) reads as lowercase hex", () => {
  const colons = PIN.toUpperCase().match(/../g)!.join(":");
  const link = parseShareLink(`trojan://a%3Ab@h.org:1?pcs=${colons}`);
  assertEquals([link.pin, link.sni, link.label], [PIN, "h.org", "h.org"]);
});

Deno.test("links that turn checks off, other transports and bad parts are refused", () => {
  for (
    const bad of [
      "trojan://a%3Ab@h.org:443?allowInsecure=1",
      "trojan://a%3Ab@h.org:443?insecure=1",
      "trojan://a%3Ab@h.org:443?type=ws",
      "trojan://a%3Ab@h.org:443?security=none",
      "trojan://justapassword@h.org:443",
      "trojan://a%3Ab@h.org",
      "trojan://a%3Ab@h.org:443?pcs=1234",
      "vless://a%3Ab@h.org:443",
      "trojan://a%ZZ@h.org:443",
    ]
  ) {
    assertThrows(() => parseShareLink(bad), ProtocolError);
  }
});

Deno.test("a repeated security parameter, an empty pin and control characters are refused", () => {
  const base = "trojan://ann%3Asecret@h.org:443?security=tls&type=tcp";
  const refused: [string, RegExp][] = [
    [`${base}&allowInsecure=0&allowInsecure=1`, /allowInsecure or insecure at most once/],
    [`${base}&allowInsecure=0&insecure=1`, /at most once/],
    [`${base}&security=tls`, /security at most once/],
    [`${base}&type=tcp&type=ws`, /type at most once/],
    [`${base}&sni=h.org&sni=evil.org`, /sni or peer at most once/],
    [`${base}&sni=h.org&peer=evil.org`, /sni or peer at most once/],
    [`${base}&pcs=${PIN}&pcs=${"cd".repeat(32)}`, /pcs at most once/],
    [`${base}&pcs=`, /empty pin/],
    [`${base}&sni=h.org%0Aevil`, /server name \(sni\) without control/],
    [`${base}&sni=h.org%1B%5B31m`, /server name \(sni\) without control/],
    [`${base}&sni=h.org%20x`, /without spaces/],
    [`${base}#ann%0A2026-01-01%20forged`, /the label without control/],
    ["trojan://an%0An%3Asecret@h.org:443", /the name without control/],
  ];
  for (const [bad, why] of refused) {
    const error = assertThrows(() => parseShareLink(bad), ProtocolError);
    assert(why.test(error.message), `${bad}: ${error.message}`);
    // deno-lint-ignore no-control-regex
    assert(!/[\x00-\x1f]/.test(error.message), "the message holds no control character");
  }
  // One of each, an empty sni (the host) and a label with spaces stay fine.
  const fine = parseShareLink(`${base}&allowInsecure=0&sni=&pcs=${PIN}#ann%20at%20home`);
  assertEquals([fine.sni, fine.pin, fine.label], ["h.org", PIN, "ann at home"]);
});
