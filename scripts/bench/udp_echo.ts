/**
 * The UDP benchmark's far end, in its own process (as `sink.ts` is for TCP): a loopback UDP
 * echo server, through the receive loop the programs themselves use.
 *
 * @example deno run -P=bench scripts/bench/udp_echo.ts   # prints "udp echo on PORT"
 */
import { bindUdp, receiveEach } from "../../lib/common/udp_socket.ts";

const socket = bindUdp("127.0.0.1");
console.log(`udp echo on ${(socket.addr as Deno.NetAddr).port}`);
await receiveEach(socket, async (datagram, from) => {
  await socket.send(datagram, from).catch(() => {});
});
