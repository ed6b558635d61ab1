/**
 * Helpers for the end-to-end tests: a chain whose local has no dashboard and no settings
 * file, SOCKS5 spoken by hand, small TCP servers that count accepts, and openssl certificates.
 */
import { decodeReply, encodeGreeting, encodeRequest, Method } from "../../lib/protocol/socks5.ts";
import type { Destination } from "../../lib/protocol/address.ts";
import { LocalFixture, Program, RemoteFixture, sha256, startChain } from "../_harness.ts";
import { AssertionError } from "../_assert.ts";
import { readExactly, writeAll } from "../../lib/common/net/conn_io.ts";
import { openExistingStore } from "../../lib/remote/store/data_dir.ts";
import type { User } from "../../lib/remote/store/user_store.ts";

export { readExactly, writeAll };

/** Extra local flags for tests: no dashboard port to fight over, no user settings file. */
export function quietLocalArgs(dir: string): string[] {
  return ["--no-ui", "--config", `${dir}/local-settings.json`];
}

/** A remote and a local connected to it as alice; `stop` ends both and removes the data. */
export interface Chain {
  remote: RemoteFixture;
  local: LocalFixture;
  stop(): Promise<void>;
}

/** Starts a remote (with `users`) and a local logged in as alice. */
export function startQuietChain(
  options: { users?: Record<string, string>; localArgs?: string[] } = {},
): Promise<Chain> {
  return startChain([], options);
}

export { closeQuietly, namedOrigin, TcpServer } from "../_net.ts";

/**
 * Awaits every start at once; `stack` adopts each that succeeded (to be stopped with `stop`),
 * then the first failure, if any, is rethrown.
 *
 * @example
 * await using cleanup = new AsyncDisposableStack();
 * const [a, b] = await adoptAll(cleanup, [startLocal(x), startLocal(y)], (l) => l.stop());
 */
export async function adoptAll<S extends unknown[]>(
  stack: AsyncDisposableStack,
  starts: [...{ [K in keyof S]: Promise<S[K]> }],
  stop: (value: S[number]) => Promise<unknown> | unknown,
): Promise<S> {
  const settled = await Promise.allSettled(starts);
  for (const result of settled) {
    if (result.status === "fulfilled") {
      stack.adopt(result.value, async (value) => {
        await stop(value);
      });
    }
  }
  const failed = settled.find((result) => result.status === "rejected");
  if (failed) throw (failed as PromiseRejectedResult).reason;
  return settled.map((result) => (result as PromiseFulfilledResult<S[number]>).value) as S;
}

/** Reads from `conn` until it closes; returns every byte. */
export async function readAll(conn: Deno.Conn): Promise<Uint8Array> {
  // Not `conn.readable`, which closes the connection at EOF: callers still write after it.
  const chunks: Uint8Array[] = [];
  for (;;) {
    const buffer = new Uint8Array(64 * 1024);
    const n = await conn.read(buffer);
    if (n === null) return concatAll(chunks);
    chunks.push(buffer.subarray(0, n));
  }
}

/** Concatenates byte arrays. */
export function concatAll(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.length;
  }
  return out;
}

/**
 * Throws unless `actual` has the bytes of `expected`; the message gives lengths, SHA-256s and
 * the first differing offset rather than the bytes.
 */
export async function assertSameBytes(
  actual: Uint8Array,
  expected: Uint8Array,
  what = "bytes",
): Promise<void> {
  const [a, b] = [await sha256(actual), await sha256(expected)];
  if (a === b && actual.length === expected.length) return;
  let at = 0;
  while (at < actual.length && at < expected.length && actual[at] === expected[at]) at++;
  throw new AssertionError(
    `${what}: expected ${expected.length} bytes (sha256 ${b}), got ${actual.length} ` +
      `(sha256 ${a}), first difference at ${at}: ` +
      JSON.stringify(new TextDecoder().decode(actual.subarray(at, at + 80))),
  );
}

/** Reads one SOCKS5 reply (VER REP RSV ATYP ADDR PORT) and returns REP. */
export async function readSocksReply(conn: Deno.Conn): Promise<number> {
  let buffer = await readExactly(conn, 4);
  for (;;) {
    const decoded = decodeReply(buffer);
    if (decoded) return decoded.value.reply;
    buffer = concatAll([buffer, await readExactly(conn, 1)]);
  }
}

/**
 * Connects to a SOCKS5 proxy on loopback `port` without login and sends `command` for
 * `destination`; returns the connection and the REP code.
 */
export async function socksRequest(
  port: number,
  destination: Destination,
  command = 0x01,
): Promise<{ conn: Deno.TcpConn; rep: number }> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await writeAll(conn, encodeGreeting([Method.noAuth]));
  const selection = await readExactly(conn, 2);
  if (selection[0] !== 5 || selection[1] !== Method.noAuth) {
    conn.close();
    throw new Error(`expected method selection 05 00, got ${selection}`);
  }
  await writeAll(conn, encodeRequest({ command, destination }));
  return { conn, rep: await readSocksReply(conn) };
}

/**
 * Connects to the HTTP proxy on loopback `port` and opens a CONNECT tunnel to `target`
 * (`host:port`); throws unless the proxy answers `200 Connection established`.
 */
export async function httpConnect(port: number, target: string): Promise<Deno.TcpConn> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const text = new TextEncoder().encode(`CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n\r\n`);
  await writeAll(conn, text);
  const status = "HTTP/1.1 200 Connection established\r\n\r\n";
  const answer = new TextDecoder().decode(await readExactly(conn, status.length));
  if (answer !== status) {
    conn.close();
    throw new AssertionError(`expected ${JSON.stringify(status)}, got ${JSON.stringify(answer)}`);
  }
  return conn;
}

/** Runs a program to completion; throws with its output when it fails. */
export async function sh(command: string, args: string[], cwd?: string): Promise<string> {
  const out = await new Deno.Command(command, { args, cwd, stdin: "null" }).output();
  const text = new TextDecoder();
  if (!out.success) {
    throw new Error(`${command} ${args.join(" ")} failed:\n${text.decode(out.stderr)}`);
  }
  return text.decode(out.stdout);
}

/** A CA and a leaf certificate signed by it, as PEM files in `dir`. */
export interface TestCertificates {
  caCert: string;
  cert: string;
  key: string;
}

/** Generates a CA and a leaf for `localhost`, `127.0.0.1` and `::1` with openssl in `dir`. */
export async function makeCertificates(dir: string): Promise<TestCertificates> {
  const p = (name: string) => `${dir}/${name}`;
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  await sh("openssl", [
    "req",
    "-x509",
    ...ec,
    "-keyout",
    p("ca.key"),
    "-out",
    p("ca.pem"),
    "-days",
    "2",
    "-subj",
    "/CN=SwiftProxy test CA",
    "-addext",
    "basicConstraints=critical,CA:TRUE",
    "-addext",
    "keyUsage=critical,keyCertSign,cRLSign",
  ]);
  await sh("openssl", [
    "req",
    ...ec,
    "-keyout",
    p("leaf.key"),
    "-out",
    p("leaf.csr"),
    "-subj",
    "/CN=localhost",
  ]);
  await Deno.writeTextFile(
    p("leaf.ext"),
    "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n" +
      "extendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1\n",
  );
  await sh("openssl", [
    "x509",
    "-req",
    "-in",
    p("leaf.csr"),
    "-CA",
    p("ca.pem"),
    "-CAkey",
    p("ca.key"),
    "-CAcreateserial",
    "-out",
    p("leaf.pem"),
    "-days",
    "2",
    "-extfile",
    p("leaf.ext"),
  ]);
  return { caCert: p("ca.pem"), cert: p("leaf.pem"), key: p("leaf.key") };
}

/** Waits until `check` is true, polling, or throws after `ms`. */
export async function eventually(
  check: () => boolean,
  what: string,
  ms = 10_000,
): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * Starts a third-party program (trojan, v2ray) with a JSON config written to `path`; its
 * output is collected like the programs' own, for failure messages.
 *
 * @example const trojan = startConfigured("/usr/bin/trojan", config, path, (p) => ["-c", p]);
 */
export function startConfigured(
  binary: string,
  config: unknown,
  path: string,
  args: (path: string) => string[],
): Program {
  Deno.writeTextFileSync(path, JSON.stringify(config, null, 2));
  return new Program(args(path), { command: binary });
}

/** Resolves once something accepts TCP connections on `port`; `what` explains a failure. */
export async function waitForPort(port: number, what: () => string): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      conn.close();
      return;
    } catch {
      if (Date.now() > deadline) throw new Error(`nothing listens on ${port}:\n${what()}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

/**
 * Established TCP connections to 127.0.0.1:`port`, counted by their client ends. The kernel
 * writes /proc/net/tcp a page per read, so a socket opened or closed between two reads can
 * shift the table and list others twice: each client end counts once.
 */
export function connectionsTo(port: number): number {
  const hex = port.toString(16).toUpperCase().padStart(4, "0");
  const clients = new Set<string>();
  for (const line of Deno.readTextFileSync("/proc/net/tcp").split("\n").slice(1)) {
    const [, local, remote, state] = line.trim().split(/\s+/);
    if (remote === `0100007F:${hex}` && state === "01") clients.add(local!);
  }
  return clients.size;
}

/**
 * The users of data directory `data`, read in this process: for a test of a command that must
 * write nothing, where `user list` would only cost another program start per check.
 */
export async function storedUsers(data: string): Promise<User[]> {
  const store = await openExistingStore(data);
  try {
    return await store.list();
  } finally {
    await store.close();
  }
}
