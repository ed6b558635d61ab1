/** The benchmark table (terminal and Markdown) and the section of docs/BENCHMARKS.md it owns. */
import type { TunnelResult } from "./load.ts";

/** Everything measured through one contender. */
export interface Row {
  name: string;
  down1: number;
  up1: number;
  down8: number;
  up8: number;
  p50: number;
  p99: number;
  /** CPU time of the proxy's processes per new connection; absent without a proxy. */
  cpuUs?: number;
  /** The same for each process: client, then server. */
  cpuUsByProcess?: number[];
  tunnels: TunnelResult & { asked: number };
}

/** The heading of the section this benchmark writes; other sections are left alone. */
export const SECTION = "## Throughput, latency and 10k tunnels";

const BASELINE = "trojan";

function ratio(value: number, base: number | undefined): string {
  return base ? ` (${(value / base).toFixed(2)}×)` : "";
}

/** The table as rows of cells, with ratios against trojan. */
export function cells(rows: Row[]): string[][] {
  const base = rows.find((row) => row.name === BASELINE);
  const header = [
    "",
    "down 1×",
    "up 1×",
    "down 8×",
    "up 8×",
    "p50",
    "p99",
    "CPU µs/conn",
    "CPU client / server",
    "tunnels ok",
    "KiB/tunnel",
    "client / server",
  ];
  const body = rows.map((row) => {
    const mb = (key: "down1" | "up1" | "down8" | "up8") =>
      `${row[key].toFixed(0)}${row.name === BASELINE ? "" : ratio(row[key], base?.[key])}`;
    const ms = (key: "p50" | "p99") =>
      `${row[key].toFixed(2)}${row.name === BASELINE ? "" : ratio(row[key], base?.[key])}`;
    const t = row.tunnels;
    return [
      row.name,
      mb("down1"),
      mb("up1"),
      mb("down8"),
      mb("up8"),
      ms("p50"),
      ms("p99"),
      row.cpuUs === undefined
        ? "–"
        : `${row.cpuUs.toFixed(0)}${
          row.name === BASELINE || !base?.cpuUs ? "" : ratio(row.cpuUs, base.cpuUs)
        }`,
      row.cpuUsByProcess?.length === 2
        ? row.cpuUsByProcess.map((us) => us.toFixed(0)).join(" / ")
        : "–",
      `${t.echoed}/${t.asked}`,
      row.name === "direct" ? "–" : t.kibPerTunnel.toFixed(1),
      t.kibPerTunnelByProcess.length === 2
        ? t.kibPerTunnelByProcess.map((kib) => kib.toFixed(1)).join(" / ")
        : "–",
    ];
  });
  return [header, ...body];
}

/** A fixed-width table for the terminal. */
export function textTable(table: string[][]): string {
  const widths = (table[0] ?? []).map((_, i) =>
    Math.max(...table.map((row) => row[i]?.length ?? 0))
  );
  return table.map((row) => row.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join("  ")).join(
    "\n",
  );
}

/** A Markdown table. */
export function markdownTable(table: string[][]): string {
  const [header = [], ...body] = table;
  const line = (row: string[]) => `| ${row.join(" | ")} |`;
  return [line(header), line(header.map(() => "---")), ...body.map(line)].join("\n");
}
