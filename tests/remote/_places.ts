/**
 * Tunnels held open from a chosen loopback source address (127.0.0.2, 127.0.0.3, …), for the
 * device limit's tests: a real Trojan CONNECT through node:tls (Deno cannot pick the source)
 * to an echo server, which answers what is sent while the tunnel stays open.
 */
import tls from "node:tls";
import { encodeTrojanHeader, TrojanCommand, trojanToken } from "../../lib/protocol/trojan.ts";
import { decodeAccountStatus } from "../../lib/protocol/account_status.ts";
import type { AccountStatus } from "../../lib/protocol/account_status.ts";

/** Where a tunnel goes: a remote's port and its certificate. */
export interface TunnelTarget {
  port: number;
  certPath: string;
}

/** An open tunnel: `echo` sends text and waits for it back; false when the tunnel is shut. */
export interface HeldTunnel {
  echo(text: string, ms?: number): Promise<boolean>;
  close(): void;
}

function connect(target: TunnelTarget, from: string): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const options: tls.ConnectionOptions & { localAddress?: string } = {
      host: "127.0.0.1",
      port: target.port,
      localAddress: from,
      ca: Deno.readTextFileSync(target.certPath),
      servername: "localhost",
    };
    const socket = tls.connect(options, () => resolve(socket));
    socket.once("error", reject);
  });
}

/**
 * Opens a tunnel of `credential` (`name:password`) from source address `from` to the echo
 * server on `echoPort`, and checks that it echoes once.
 *
 * @throws {Error} when the first echo does not come back (the remote refused the tunnel)
 */
export async function holdTunnel(
  target: TunnelTarget,
  credential: string,
  from: string,
  echoPort: number,
): Promise<HeldTunnel> {
  const socket = await connect(target, from);
  socket.on("error", () => {});
  let received = "";
  let closed = false;
  socket.on("data", (chunk: Uint8Array) => received += new TextDecoder().decode(chunk));
  socket.on("close", () => closed = true);
  socket.write(encodeTrojanHeader({
    token: trojanToken(credential),
    command: TrojanCommand.connect,
    destination: { host: "127.0.0.1", port: echoPort },
  }));
  const tunnel: HeldTunnel = {
    async echo(text, ms = 3_000) {
      received = "";
      if (closed) return false;
      socket.write(text);
      const deadline = Date.now() + ms;
      while (Date.now() < deadline && !closed) {
        if (received.includes(text)) return true;
        await new Promise((r) => setTimeout(r, 20));
      }
      return received.includes(text);
    },
    close: () => socket.destroy(),
  };
  if (!await tunnel.echo(`hello from ${from}`)) {
    tunnel.close();
    throw new Error(`the tunnel from ${from} did not echo`);
  }
  return tunnel;
}

/** The account status a remote gives `credential` asking from `from`. */
export async function statusFrom(
  target: TunnelTarget,
  credential: string,
  from: string,
): Promise<AccountStatus | null> {
  const socket = await connect(target, from);
  const chunks: Uint8Array[] = [];
  return await new Promise((resolve) => {
    socket.on("data", (chunk: Uint8Array) => chunks.push(chunk));
    const done = () => {
      const bytes = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
      let at = 0;
      for (const c of chunks) bytes.set(c, (at += c.length) - c.length);
      resolve(decodeAccountStatus(bytes));
    };
    socket.on("close", done);
    socket.on("error", done);
    socket.write(encodeTrojanHeader({
      token: trojanToken(credential),
      command: TrojanCommand.connect,
      destination: { host: "status.swiftproxy.invalid", port: 1 },
    }));
  });
}
