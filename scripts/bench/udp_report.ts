/** The UDP rows of the benchmark: the table and the section of docs/BENCHMARKS.md they own. */
import type { UdpResult } from "./udp_load.ts";

/** What one contender did with UDP. */
export interface UdpRow {
  name: string;
  /** Windowed (64 in flight each): one association, and eight at once. */
  one: UdpResult;
  eight: UdpResult;
  /** Paced at the rate trojan delivered (absent for trojan itself or without it). */
  pacedOne?: UdpResult;
  pacedEight?: UdpResult;
}

/** The heading of the UDP section; other sections are left alone. */
export const UDP_SECTION = "## UDP: 1400-byte datagrams";

const BASELINE = "trojan";

/** The table as rows of cells, with rate ratios against trojan. */
export function udpCells(rows: UdpRow[]): string[][] {
  const base = rows.find((row) => row.name === BASELINE);
  const header = [
    "",
    "1 assoc: dgrams/s",
    "MB/s",
    "loss",
    "8 assoc: dgrams/s",
    "MB/s",
    "loss",
    "loss at trojan's rate 1× / 8×",
  ];
  const rate = (result: UdpResult, baseline?: UdpResult) =>
    `${Math.round(result.perSecond)}${
      baseline && baseline !== result
        ? ` (${(result.perSecond / baseline.perSecond).toFixed(2)}×)`
        : ""
    }`;
  const loss = (result?: UdpResult) => result ? `${result.lossPercent.toFixed(1)} %` : "–";
  const body = rows.map((row) => [
    row.name,
    rate(row.one, base?.one),
    row.one.mbPerSecond.toFixed(1),
    loss(row.one),
    rate(row.eight, base?.eight),
    row.eight.mbPerSecond.toFixed(1),
    loss(row.eight),
    row.pacedOne ? `${loss(row.pacedOne)} / ${loss(row.pacedEight)}` : "–",
  ]);
  return [header, ...body];
}

/** The section's text around the table. */
export function udpSection(
  table: string,
  seconds: number,
  paced: { one: number; eight: number } | undefined,
  machine: string,
  started: Date,
): string {
  return `${UDP_SECTION}

Measured by \`deno task bench --udp\` (also part of the full run) on ${
    started.toISOString().slice(0, 16)
  }Z. SOCKS5 UDP ASSOCIATE through each contender's SOCKS5 port to a UDP echo on 127.0.0.1
(\`scripts/bench/udp_echo.py\`, its own process, with a 4 MiB receive buffer so that the far end
drops nothing: Deno's own sockets cannot ask for one); every datagram crosses the proxy twice.
Datagrams per second are echoes received; in brackets the ratio to \`trojan\`.

${table}

- **1 assoc / 8 assoc**: one association, or eight at once (aggregate), each keeping 64
  datagrams of 1400 bytes in flight for ${seconds} s (a window with no echo for 50 ms counts
  as lost and sending goes on); **loss**: datagrams sent that did not come back.
- **loss at trojan's rate**: the same, paced at the rate trojan delivered in this run${
    paced ? ` (${Math.round(paced.one)} and ${Math.round(paced.eight)} datagrams/s)` : ""
  }: the issue's target is no more than 1 % there.
- Contenders: SwiftProxy (one TLS tunnel per association), Debian's trojan, V2Ray 4.34 (socks
  inbound → Trojan outbound → Trojan inbound → freedom), shadowsocks-libev (\`ss-local -u\`,
  \`ss-server -u\`, chacha20-ietf-poly1305, plain UDP between them).
- Each load runs on freshly started processes: V2Ray 4.34's Trojan server panics ("use of
  closed network connection", \`proxy/trojan/server.go:210\`) when an association closes with
  replies still on their way, which took every later load down with it. Under this load it
  panics within the first second anyway (its client had opened a dozen Trojan connections for
  the one association by then), so its row measures that crash, not its relay: paced at 100
  datagrams/s it echoed all of them.
- The load generator, the echo and the proxies share ${machine} (load average ${
    Deno.loadavg()[0]!.toFixed(1)
  } when the run ended: the cores were shared with other work, so compare within a run).

Rerun: \`deno task bench --udp\`; \`--only trojan,swiftproxy\` runs some rows (the others:
\`v2ray\`, \`shadowsocks-libev\`; the others are paced at trojan's rate only when it runs).
`;
}
