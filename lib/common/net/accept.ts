/** The accept loop both servers share. */
import type { Logger } from "../ops/logging.ts";
import { warmStackTraces } from "./fd_reserve.ts";

/**
 * Accepts connections until the listener is closed, handing each to `handle`. A failed accept
 * (out of file descriptors, say) is logged (once a minute at most) and retried after 100 ms
 * instead of ending the server.
 *
 * @example await acceptEach(listener, log, (conn) => serve(conn));
 */
export async function acceptEach<C>(
  listener: { accept(): Promise<C> },
  log: Logger,
  handle: (conn: C) => void,
): Promise<void> {
  warmStackTraces();
  let warned = -Infinity;
  for (;;) {
    let conn: C;
    try {
      conn = await listener.accept();
    } catch (error) {
      if (error instanceof Deno.errors.BadResource) return;
      // Out of descriptors, this fails ten times a second: one line a minute says it.
      if (performance.now() - warned >= 60_000) {
        warned = performance.now();
        log.warn("accept failed: {error}", { error });
      }
      await new Promise((r) => setTimeout(r, 100));
      continue;
    }
    handle(conn);
  }
}
