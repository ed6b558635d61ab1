/**
 * The one adapter into node's private handles, and the only module of `lib/` that casts a
 * value to a type it was not declared as (`tests/common/layout_test.ts` fails on a cast
 * elsewhere). Everything here works around what `node:net`, `node:tls` and `node:http` do not
 * offer in public under Deno 2.9, and each function falls back to the public way when the
 * private handle is not there (another Deno):
 *
 * - pausing the TCP reads under a TLS socket (`readStop`/`readStart` on its `_handle`): pausing
 *   the TLS socket only stops its events while its TLS layer keeps buffering without limit;
 * - resetting a TCP connection (`resetAndDestroy`) and asking whether it was reset
 *   (`getpeername` on its handle), since Deno's `node:tls` reports a reset as a clean end;
 * - re-arming a server's accept loop after EMFILE (`_handle.listen`);
 * - binding at once (`_listen2`), as `Deno.serve` does, where `listen` binds a tick later.
 */
import type { Server } from "node:net";
import type { Socket } from "node:net";
import type tls from "node:tls";

/** node's TCP handle: reads, and the peer's address (0, or a negative error code). */
interface TcpHandle {
  readStop(): number;
  readStart(): number;
  getpeername?(out: object): number;
}

/** What a node socket holds in private, when it has it. */
interface SocketInternals {
  _handle?: (TcpHandle & { _nativeTcpHandle?: TcpHandle }) | null;
  resetAndDestroy?(): void;
}

function internals(socket: Socket | tls.TLSSocket): SocketInternals {
  return socket as unknown as SocketInternals;
}

/**
 * The TCP reads under a TLS socket, to pause and resume: those of `tcp` (the `node:net` socket
 * it runs over), else of the TCP handle under node's TLS handle, else the TLS socket's own.
 *
 * @example const reads = tcpReads(socket, raw); reads.pause();
 */
export function tcpReads(
  socket: tls.TLSSocket,
  tcp?: Socket,
): { pause(): void; resume(): void } {
  const handle = () =>
    tcp ? internals(tcp)._handle : internals(socket)._handle?._nativeTcpHandle ?? null;
  return {
    pause: () => {
      const h = handle();
      if (h) h.readStop();
      else socket.pause();
    },
    resume: () => {
      const h = handle();
      if (h) h.readStart();
      else socket.resume();
    },
  };
}

/** Closes `tcp` with a TCP reset (RST), where the handle can; else does nothing. */
export function resetTcp(tcp: Socket | undefined): void {
  if (tcp) internals(tcp).resetAndDestroy?.();
}

/**
 * Whether the TCP connection under a TLS socket was reset, asked once its TLS end arrived:
 * Deno's TLS layer (its `tls_wrap`) turns a failed read into EOF, but a reset connection has
 * no peer any more (`getpeername` fails with ENOTCONN), while one the peer only half-closed
 * still has it. Without that handle (another Deno), never.
 *
 * @example const conn = new NodeTlsConn(socket, raw, { wasReset: tcpResetCheck(raw) });
 */
export function tcpResetCheck(raw: Socket | tls.TLSSocket): () => boolean {
  const handle = internals(raw)._handle;
  const getpeername = handle?.getpeername?.bind(handle);
  if (!getpeername) return () => false;
  return () => getpeername({}) !== 0;
}

/**
 * Restarts a server's accept loop after EMFILE with its own handle; false when it has none.
 *
 * @example if (!relisten(server, 511)) server.listen(port, hostname);
 */
export function relisten(server: Server, backlog: number): boolean {
  const handle = (server as unknown as { _handle?: { listen?(backlog: number): number } })._handle;
  if (!handle?.listen) return false;
  handle.listen(backlog);
  return true;
}

/**
 * Binds and listens before returning, as `Deno.serve` does: node's `listen(port, host)` binds a
 * tick later, after a lookup of the host; its internal `_listen2` (what `listen` calls after
 * that lookup) binds at once.
 *
 * @example listenNow(server, { transport: "tcp", hostname: "127.0.0.1", port: 9090 });
 */
export function listenNow(server: Server, addr: Deno.NetAddr): void {
  const internal = server as unknown as {
    _listen2?(address: string, port: number, type: number, backlog: number): void;
  };
  if (typeof internal._listen2 === "function") {
    internal._listen2(addr.hostname, addr.port, addr.hostname.includes(":") ? 6 : 4, 511);
  } else {
    server.listen(addr.port, addr.hostname);
  }
}
