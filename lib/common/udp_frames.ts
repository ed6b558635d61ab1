/** Reading a UDP association's tunnel frame by frame, for both programs. */
import { ProtocolError } from "../protocol/errors.ts";
import { decodeTrojanFrame } from "../protocol/trojan_udp.ts";
import type { TrojanDatagram } from "../protocol/trojan_udp.ts";
import type { Peer } from "./peer.ts";

/** How reading frames ended: the peer closed, sent what is not a frame, or failed. */
export type FramesEnd =
  | { kind: "closed" }
  | { kind: "malformed"; error: ProtocolError }
  | { kind: "failed"; error: unknown };

/**
 * Reads Trojan UDP frames from `tunnel` and hands each to `handle`, awaiting it before reading
 * on (a frame spanning reads is buffered until whole, at most `MAX_FRAME` bytes). Ends when the
 * tunnel closes or fails, a frame cannot be followed, or `handle` returns `false`.
 *
 * @example const end = await eachFrame(tunnel, async ({ destination, payload }) => send(payload));
 */
export async function eachFrame(
  tunnel: Peer,
  handle: (frame: TrojanDatagram) => Promise<boolean | void> | boolean | void,
): Promise<FramesEnd> {
  for (;;) {
    let frame: TrojanDatagram;
    try {
      frame = await tunnel.readFrame(decodeTrojanFrame);
    } catch (error) {
      if (error instanceof ProtocolError) return { kind: "malformed", error };
      if (error instanceof Deno.errors.UnexpectedEof) return { kind: "closed" };
      return { kind: "failed", error };
    }
    if (await handle(frame) === false) return { kind: "closed" };
  }
}
