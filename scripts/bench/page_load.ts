/**
 * A real page load: headless Chromium (Debian's, through puppeteer-core) loads a page with 60
 * subresources spread over four loopback host names (127.0.0.1–127.0.0.4, as several sites
 * would be) through a contender's SOCKS5 port, and reports the time to the `load` event. Each
 * load is cold: a new browser with a new profile.
 */
import puppeteer from "puppeteer-core";
import type { Page } from "puppeteer-core";
import { cpuMs, machineCpu } from "./load.ts";

/** Where Debian puts Chromium. */
export const CHROMIUM = "/usr/bin/chromium";

/** The four host names the subresources are spread over. */
export const HOSTS = ["127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.4"];

/** What the page holds: per host, stylesheets, deferred scripts and images. */
const PER_HOST = { css: 1, js: 2, img: 12 };
/** Subresources in all: 4 × (1 + 2 + 12). */
export const SUBRESOURCES = HOSTS.length * (PER_HOST.css + PER_HOST.js + PER_HOST.img);

/** Bytes of each kind of subresource. */
const SIZES = { css: 8 * 1024, js: 16 * 1024, img: 6 * 1024 };

/** A running page server: the same port on each of {@linkcode HOSTS}. */
export interface PageServer {
  port: number;
  /** The page's URL. */
  url: string;
  /** Requests served since start. */
  requests: number;
  close(): Promise<void>;
}

function padded(prefix: string, size: number, open: string, close: string): string {
  return prefix + open +
    "x".repeat(Math.max(0, size - prefix.length - open.length - close.length)) +
    close;
}

function html(port: number): string {
  const tags: string[] = [];
  const head: string[] = [];
  let n = 0;
  for (const host of HOSTS) {
    const base = `http://${host}:${port}`;
    for (let i = 0; i < PER_HOST.css; i++) {
      head.push(`<link rel="stylesheet" href="${base}/style-${n++}.css">`);
    }
    for (let i = 0; i < PER_HOST.js; i++) {
      head.push(`<script defer src="${base}/app-${n++}.js"></script>`);
    }
    for (let i = 0; i < PER_HOST.img; i++) {
      tags.push(`<img src="${base}/img-${n++}.gif" width="8" height="8">`);
    }
  }
  return `<!doctype html><html><head><meta charset="utf-8"><title>bench</title>${
    head.join("")
  }</head><body><h1>A page of ${SUBRESOURCES} subresources</h1>${tags.join("")}</body></html>`;
}

/** A 1×1 GIF; a decoder stops at its trailer, so padding after it costs nothing to decode. */
const GIF = Uint8Array.from(
  atob("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7"),
  (c) => c.charCodeAt(0),
);

function padBytes(bytes: Uint8Array, size: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(Math.max(size, bytes.length));
  out.set(bytes);
  return out;
}

const IMAGE = padBytes(GIF, SIZES.img);

function body(path: string): { type: string; bytes: Uint8Array<ArrayBuffer> | string } | null {
  if (path.endsWith(".css")) {
    return { type: "text/css", bytes: padded("body{margin:0}", SIZES.css, "/*", "*/") };
  }
  if (path.endsWith(".js")) {
    const js = "window.n=(window.n||0)+1;";
    return { type: "text/javascript", bytes: padded(js, SIZES.js, "/*", "*/") };
  }
  if (path.endsWith(".gif")) return { type: "image/gif", bytes: IMAGE };
  return null;
}

const encoder = new TextEncoder();

/** One HTTP/1.1 response, head and body in one buffer (one write). */
function response(status: string, type: string, bytes: Uint8Array | string): Uint8Array {
  const content = typeof bytes === "string" ? encoder.encode(bytes) : bytes;
  const head = encoder.encode(
    `HTTP/1.1 ${status}\r\ncontent-type: ${type}\r\ncontent-length: ${content.length}\r\n` +
      "cache-control: no-store\r\ntiming-allow-origin: *\r\nconnection: keep-alive\r\n\r\n",
  );
  const out = new Uint8Array(head.length + content.length);
  out.set(head);
  out.set(content, head.length);
  return out;
}

/** Answers GET requests on `conn`, kept alive, until the browser closes it. */
async function serveConn(conn: Deno.TcpConn, page: string, count: () => void): Promise<void> {
  const decoder = new TextDecoder();
  const buffer = new Uint8Array(16 * 1024);
  let text = "";
  for (;;) {
    const n = await conn.read(buffer);
    if (n === null) return;
    text += decoder.decode(buffer.subarray(0, n));
    for (let end = text.indexOf("\r\n\r\n"); end >= 0; end = text.indexOf("\r\n\r\n")) {
      const path = text.slice(0, end).split(" ")[1] ?? "/";
      text = text.slice(end + 4);
      count();
      const found = path === "/" ? { type: "text/html", bytes: page } : body(path);
      const out = found
        ? response("200 OK", found.type, found.bytes)
        : response("404 Not Found", "text/plain", "not found");
      for (let at = 0; at < out.length;) at += await conn.write(out.subarray(at));
    }
  }
}

/**
 * Serves the page and its subresources on one port of every host in {@linkcode HOSTS}: a
 * minimal HTTP/1.1 server (GET, keep-alive) that disables Nagle and writes each response in one
 * write, as a tuned web server does (`Deno.serve` leaves Nagle on, and its head and body then
 * wait out the browser's delayed ACK: 40 ms per response).
 */
export function startPageServer(): PageServer {
  const first = Deno.listen({ hostname: HOSTS[0], port: 0 });
  const port = first.addr.port;
  const listeners = [first, ...HOSTS.slice(1).map((hostname) => Deno.listen({ hostname, port }))];
  const page = html(port);
  const state = { requests: 0 };
  const conns = new Set<Deno.TcpConn>();
  const loops = listeners.map(async (listener) => {
    for await (const conn of listener) {
      conn.setNoDelay(true);
      conns.add(conn);
      serveConn(conn, page, () => state.requests++).catch(() => {}).finally(() => {
        conns.delete(conn);
        try {
          conn.close();
        } catch {
          // closed already
        }
      });
    }
  });
  return {
    port,
    url: `http://${HOSTS[0]}:${port}/`,
    get requests() {
      return state.requests;
    },
    async close() {
      for (const listener of listeners) listener.close();
      for (const conn of conns) conn.close();
      await Promise.allSettled(loops);
    },
  };
}

/**
 * Flags that keep Chromium from talking to anything but the page: no background networking,
 * updates, sync, metrics or safe browsing, and loopback sent through the proxy too (no proxy
 * when `socksPort` is undefined).
 */
function chromiumArgs(socksPort: number | undefined): string[] {
  const proxy = socksPort === undefined ? [] : [
    `--proxy-server=socks5://127.0.0.1:${socksPort}`,
    // Chromium sends loopback addresses direct unless told otherwise.
    "--proxy-bypass-list=<-loopback>",
  ];
  return [
    ...proxy,
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--disable-domain-reliability",
    "--disable-client-side-phishing-detection",
    "--disable-breakpad",
    "--no-pings",
    "--metrics-recording-only",
    "--safebrowsing-disable-auto-update",
    // Less CPU per load on a small shared machine: one renderer, no background throttling.
    "--renderer-process-limit=1",
    "--disable-site-isolation-trials",
    "--disable-renderer-backgrounding",
    "--disable-background-timer-throttling",
    "--disable-software-rasterizer",
    "--disable-features=IsolateOrigins,site-per-process,OptimizationHints,MediaRouter,Translate,AutofillServerCommunication,CertificateTransparencyComponentUpdater,NetworkTimeServiceQuerying",
  ];
}

/** How {@linkcode coldLoad} waits for a new browser before it navigates. */
export interface SettleOptions {
  /** A window of this long in which the browser's processes used less than `idleCpuMs`… */
  windowMs: number;
  /** …of CPU in all means the browser is idle. */
  idleCpuMs: number;
  /** Navigate after this long anyway. */
  maxMs: number;
}

/**
 * The default: idle is under 10 ms of CPU in 200 ms (5 % of a core), and 5 s is as long as a
 * new browser is given to finish starting.
 */
export const SETTLE: SettleOptions = { windowMs: 200, idleCpuMs: 10, maxMs: 5_000 };

/** Every process under `root` (its children, theirs, …) and `root` itself. */
export function processTree(root: number): number[] {
  const parents = new Map<number, number[]>();
  for (const entry of Deno.readDirSync("/proc")) {
    const pid = Number(entry.name);
    if (!Number.isInteger(pid)) continue;
    try {
      const ppid = Number(Deno.readTextFileSync(`/proc/${pid}/stat`).split(") ")[1]!.split(" ")[1]);
      parents.set(ppid, [...parents.get(ppid) ?? [], pid]);
    } catch {
      // gone already
    }
  }
  const tree = [root];
  for (let i = 0; i < tree.length; i++) tree.push(...parents.get(tree[i]!) ?? []);
  return tree;
}

/** CPU ms used so far by `pid` and every process under it (a browser's, or this benchmark's). */
export function treeCpuMs(pid: number): number {
  return processTree(pid).reduce((sum, p) => sum + cpuMs(p), 0);
}

/**
 * Waits until a newly launched browser has finished starting (its processes nearly idle for a
 * window), so that a cold load measures the page, not the browser's own start. Returns the ms
 * waited.
 */
async function settle(pid: number, options: SettleOptions): Promise<number> {
  const started = performance.now();
  let before = treeCpuMs(pid);
  while (performance.now() - started < options.maxMs) {
    await new Promise((r) => setTimeout(r, options.windowMs));
    const now = treeCpuMs(pid);
    if (now - before < options.idleCpuMs) break;
    before = now;
  }
  return performance.now() - started;
}

/**
 * Where each cold load's new profile goes: a tmpfs where there is one. A new profile writes its
 * files (caches, databases, preferences) during the first load, which on this machine's disk
 * cost every row about 30 ms (7 ms before the page's own request was even sent).
 */
function profileParent(): string | undefined {
  try {
    return Deno.statSync("/dev/shm").isDirectory ? "/dev/shm" : undefined;
  } catch {
    return undefined;
  }
}

/** Looks at a cold load from outside, before navigation and after `load`, so not timed. */
export interface LoadObserver {
  /** The browser has settled and is about to navigate; `pid` is its main process. */
  before(pid: number | undefined): void;
  /** The page has loaded; the browser is still open. */
  after(page: Page): Promise<void>;
}

/**
 * One cold load of `url` through SOCKS5 on `socksPort` (direct when undefined): ms from
 * navigation start to the `load` event. Cold: a new browser and profile (no cache, no
 * connections open), started in full (a blank tab open and the browser idle, see
 * {@linkcode settle}) before it navigates.
 */
export async function coldLoad(
  url: string,
  socksPort: number | undefined,
  options: SettleOptions | null = SETTLE,
  observer?: LoadObserver,
): Promise<number> {
  const profile = await Deno.makeTempDir({
    prefix: "swiftproxy-bench-chromium-",
    dir: profileParent(),
  });
  const browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    userDataDir: profile,
    args: chromiumArgs(socksPort),
    // Puppeteer's own record of every request (CDP's Network and Audits events) cost the
    // browser process about 90 ms of CPU a load here, a sixth of the browser's; nothing reads it.
    networkEnabled: false,
    issuesEnabled: false,
  });
  try {
    const page = await browser.newPage();
    const pid = browser.process()?.pid;
    if (options && pid !== undefined) await settle(pid, options);
    observer?.before(pid);
    await page.goto(url, { waitUntil: "load", timeout: 60_000 });
    await observer?.after(page);
    // A string, not a function: this module is type-checked without the DOM's types.
    const loaded = await page.evaluate(`({
      load: performance.getEntriesByType("navigation")[0].loadEventStart,
      images: document.images.length,
    })`) as { load: number; images: number };
    if (loaded.images !== HOSTS.length * PER_HOST.img) {
      throw new Error("the page did not load whole");
    }
    return loaded.load;
  } finally {
    await browser.close();
    await Deno.remove(profile, { recursive: true }).catch(() => {});
  }
}

/** Every load's time, in order, and their median. */
export interface PageLoads {
  name: string;
  times: number[];
  p50: number;
  /**
   * Median CPU ms per load that went elsewhere: to processes outside this benchmark (not this
   * process, its browser, contender or relays), and stolen by the hypervisor.
   */
  elsewhere: { othersMs: number; stealMs: number };
}

/** The median of `values` (the mean of the middle two when even). */
export function median(values: number[]): number {
  const sorted = values.toSorted((a, b) => a - b);
  const mid = sorted.length / 2;
  if (sorted.length === 0) return NaN;
  return sorted.length % 2 ? sorted[Math.floor(mid)]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Records the CPU that went to other processes and to the hypervisor during each load. */
function cpuElsewhere(othersMs: number[], stealMs: number[]): LoadObserver {
  let start = { machine: machineCpu(), ours: 0 };
  return {
    before() {
      start = { machine: machineCpu(), ours: treeCpuMs(Deno.pid) };
    },
    after() {
      const machine = machineCpu();
      const ours = treeCpuMs(Deno.pid) - start.ours;
      othersMs.push(Math.max(0, machine.busyMs - start.machine.busyMs - ours));
      stealMs.push(machine.stealMs - start.machine.stealMs);
      return Promise.resolve();
    },
  };
}

/** `count` cold loads of `url` through `socksPort` (direct when undefined), one after another. */
export async function pageLoads(
  name: string,
  url: string,
  socksPort: number | undefined,
  count: number,
): Promise<PageLoads> {
  const times: number[] = [];
  const othersMs: number[] = [];
  const stealMs: number[] = [];
  const observer = cpuElsewhere(othersMs, stealMs);
  for (let i = 0; i < count; i++) times.push(await coldLoad(url, socksPort, SETTLE, observer));
  return {
    name,
    times,
    p50: median(times),
    elsewhere: { othersMs: median(othersMs), stealMs: median(stealMs) },
  };
}
