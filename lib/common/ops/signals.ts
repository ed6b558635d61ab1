/** Process signals both programs react to, on every platform the binaries are built for. */

/** Signals that mean "shut down gracefully" (Ctrl-Break too on Windows). */
const SHUTDOWN: Deno.Signal[] = Deno.build.os === "windows"
  ? ["SIGINT", "SIGTERM", "SIGBREAK"]
  : ["SIGINT", "SIGTERM"];

/**
 * Calls `handler` on every `signal`; does nothing where the platform lacks the signal.
 *
 * @returns whether the handler was installed
 * @example onSignal("SIGHUP", () => reload());
 */
export function onSignal(signal: Deno.Signal, handler: () => void): boolean {
  try {
    Deno.addSignalListener(signal, handler);
    return true;
  } catch {
    return false;
  }
}

/**
 * Resolves with the first shutdown signal: SIGINT or SIGTERM (or SIGBREAK on Windows).
 *
 * @example await shutdownSignal(); await server.stop();
 */
export function shutdownSignal(): Promise<Deno.Signal> {
  return new Promise((resolve) => {
    for (const signal of SHUTDOWN) onSignal(signal, () => resolve(signal));
  });
}
