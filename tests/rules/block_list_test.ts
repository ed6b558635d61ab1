/** Block lists (the remote's `--block FILE`) and the BitTorrent first-bytes match. */
import { assert, assertEquals, assertThrows } from "../_assert.ts";
import { parseBlockList } from "../../lib/rules/block_list.ts";
import { bittorrentStream, isBittorrentDatagram } from "../../lib/rules/bittorrent.ts";
import { RulesError } from "../../lib/rules/rule.ts";

const ascii = (text: string) => new TextEncoder().encode(text);

Deno.test("block list: each kind of entry in text, mihomo YAML and sing-box JSON", () => {
  const list = parseBlockList(
    "# comment\nexact.example\n+.suffix.example\nDOMAIN-KEYWORD,torrent\n10.0.0.0/8\n" +
      "198.51.100.7\n2001:db8::/32\nDST-PORT,25\nIP-CIDR,192.0.2.0/24,no-resolve\n",
    "list.txt",
  );
  assertEquals(list.size, 8);
  assert(list.blocksName("exact.example", 443, "tcp"));
  assert(!list.blocksName("www.exact.example", 443, "tcp"), "a plain name is that name only");
  assert(
    list.blocksName("suffix.example", 443, "udp") && list.blocksName("a.suffix.example", 1, "tcp"),
  );
  assert(list.blocksName("my-Torrent-site.org", 80, "tcp"));
  assert(list.blocksName("mail.example", 25, "tcp"), "DST-PORT holds for names");
  assert(!list.blocksName("example.org", 443, "tcp"));
  assert(list.blocksAddress("10.9.8.7", null, 443, "tcp"));
  assert(list.blocksAddress("198.51.100.7", "some.name", 443, "tcp"), "a name's address");
  assert(!list.blocksAddress("198.51.100.8", null, 443, "tcp"));
  assert(list.blocksAddress("2001:db8::1", null, 443, "udp"));
  assert(list.blocksAddress("::ffff:10.1.1.1", null, 443, "tcp"), "IPv4-mapped");
  assert(list.blocksAddress("64:ff9b::a01:101", null, 443, "tcp"), "NAT64 of 10.1.1.1");
  assert(list.blocksAddress("192.0.2.9", null, 443, "tcp"), "no-resolve makes no difference");
  assert(list.blocksAddress("203.0.113.1", null, 25, "tcp"), "DST-PORT holds for addresses");

  const yaml = parseBlockList("payload:\n  - '+.x.example'\n  - 203.0.113.0/24\n", "y.yaml");
  assert(
    yaml.blocksName("a.x.example", 1, "tcp") && yaml.blocksAddress("203.0.113.5", null, 1, "tcp"),
  );
  const json = parseBlockList(
    '{"version": 2, "rules": [{"domain_suffix": ["x.example"], "port": [443], "network": "udp"}]}',
    "s.json",
  );
  assert(json.blocksName("a.x.example", 443, "udp"));
  assert(!json.blocksName("a.x.example", 443, "tcp") && !json.blocksName("a.x.example", 80, "udp"));
});

Deno.test("block list: bad entries are refused with the source, the line and the reason", () => {
  const cases: [string, RegExp][] = [
    ["ok.example\nnot a name!\n", /^l\.txt: line 2: expected a name/],
    ["ok.example\n\n300.1.1.1\n", /^l\.txt: line 3: .*300\.1\.1\.1/],
    ["DST-PORT,70000", /^l\.txt: line 1: expected a port/],
    ["MATCH,x", /^l\.txt: line 1: "MATCH" is not a rule type/],
    ["GEOIP,CN", /GEOIP is not supported in a block list/],
    ["payload: 3\n", /^l\.txt: line 1: expected a YAML document with a payload/],
    [
      'payload:\n  - x.example\n  - ""\n',
      /^l\.txt: line 3: expected a rule, an address or a name, got ""/,
    ],
    ['payload:\n  - "# not a comment"\n', /^l\.txt: line 2: expected a rule, an address or a name/],
    ['{"version": 9, "rules": []}', /^l\.txt: line 1: expected "version"/],
  ];
  for (const [text, message] of cases) {
    const error = assertThrows(() => parseBlockList(text, "l.txt"), RulesError);
    assert(message.test(error.message), `${JSON.stringify(text)}: ${error.message}`);
  }
  assertEquals(
    parseBlockList("GEOIP,LAN\n", "l").blocksAddress("192.168.1.1", null, 1, "tcp"),
    true,
  );
});

Deno.test("bittorrent: a stream by its first bytes, datagrams by theirs", () => {
  const handshake = ascii("\x13BitTorrent protocol\0\0\0\0\0\x10\0\x05");
  assertEquals(bittorrentStream(handshake), "yes");
  for (let n = 1; n < 20; n++) assertEquals(bittorrentStream(handshake.subarray(0, n)), "more");
  assertEquals(bittorrentStream(ascii("GET / HTTP/1.1\r\n")), "no");
  assertEquals(bittorrentStream(ascii("x\x13BitTorrent protocol")), "no");

  const dht = [
    "d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe",
    "d1:rd2:id20:abcdefghij0123456789e1:t2:aa1:y1:re",
    "d1:eli201e23:A Generic Error Ocurrede1:t2:aa1:y1:ee",
    "d2:ip6:abcdef1:rd2:id20:abcdefghij0123456789e1:t2:aa1:y1:re",
    "d2:ip18:abcdefghijklmnopqr1:rd2:id20:abcdefghij0123456789e1:t2:aa1:y1:re",
  ];
  for (const message of dht) assert(isBittorrentDatagram(ascii(message)), message);
  const tracker = Uint8Array.of(0, 0, 4, 0x17, 0x27, 0x10, 0x19, 0x80, 0, 0, 0, 0, 9, 9, 9, 9);
  assert(isBittorrentDatagram(tracker));
  const syn = new Uint8Array(20);
  syn[0] = 0x41;
  assert(isBittorrentDatagram(syn), "uTP SYN");
  const withExtension = new Uint8Array(26);
  withExtension.set([0x41, 2]);
  withExtension.set([0, 4], 20);
  assert(isBittorrentDatagram(withExtension), "uTP SYN with an extension");

  const ordinary = [
    ascii("d1:xd2:id20:not dht, just a d"),
    ascii("hello"),
    new Uint8Array(0),
    Uint8Array.of(0x41, 0, ...new Uint8Array(30)), // a QUIC-like short header with a payload
    Uint8Array.of(0x01, 0, ...new Uint8Array(30)), // a uTP DATA header, also a DNS id: passes
    tracker.subarray(0, 12),
  ];
  for (const datagram of ordinary) assert(!isBittorrentDatagram(datagram), String(datagram));
});
