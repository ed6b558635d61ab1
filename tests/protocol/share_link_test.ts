/** The `trojan://` share link: the exact format clients read, and what parsing refuses. */
import { assertEquals, assertThrows } from "../_assert.ts";
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
