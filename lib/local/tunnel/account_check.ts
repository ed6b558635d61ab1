/**
 * The login check: a tunnel to the account-status destination
 * (lib/protocol/account_status.ts). A SwiftProxy
 * remote answers one JSON line and closes; a wrong login is closed without a byte.
 */
import { formatHostPort } from "../../protocol/address.ts";
import { TunnelDialer, TunnelError } from "./tunnel.ts";
import type { RemoteEndpoint } from "./tunnel.ts";
import type { Peer } from "../../common/net/peer.ts";
import { decodeAccountStatus, STATUS_HOST, STATUS_PORT } from "../../protocol/account_status.ts";
import type { AccountStatus } from "../../protocol/account_status.ts";
import { Problem, tunnelProblem } from "./problems.ts";

export type { AccountStatus };

const MAX_ANSWER = 64 * 1024;

/**
 * Asks the remote for the account's status, which also proves the login works.
 *
 * @throws {Problem} remote unreachable, certificate not trusted, login refused, or not a
 *   SwiftProxy remote (no status document within `answerMs`, or something else came back)
 * @example const account = await checkAccount(endpoint); account.limits.quota
 */
export async function checkAccount(
  endpoint: RemoteEndpoint,
  answerMs = 5_000,
): Promise<AccountStatus> {
  const remote = formatHostPort(endpoint.remote);
  const answer = await ask(endpoint, answerMs);
  if (answer.bytes.length === 0) {
    if (answer.timedOut) {
      throw new Problem(
        "not-swiftproxy",
        `Not a SwiftProxy remote: ${remote} did not answer the account check within ` +
          `${
            answerMs / 1000
          } s (a plain Trojan server tries to reach the check's address instead).`,
      );
    }
    // A SwiftProxy remote pauses before it closes on any login it refuses, this one too: a
    // close at once already tells, and a second look (on a loaded machine a Trojan server's
    // close can take longer) gets another chance to see one.
    const atOnce = answer.closedAfterMs < SWIFTPROXY_PAUSE_MS;
    if (atOnce || await closesUnknownLoginAtOnce(endpoint, answerMs)) {
      throw new Problem(
        "not-swiftproxy",
        `Not a SwiftProxy remote: ${remote} closed the account check without an answer, the way ` +
          `a plain Trojan server does.`,
      );
    }
    throw new Problem(
      "login-refused",
      `Login refused by ${remote}: wrong name or password, or the account is disabled, expired ` +
        `or over its quota.`,
    );
  }
  const status = decodeAccountStatus(answer.bytes);
  if (!status) {
    throw new Problem(
      "not-swiftproxy",
      `Not a SwiftProxy remote: ${remote} answered the account check with something else ` +
        `(a plain Trojan server or a web server?).`,
    );
  }
  const closed = ACCOUNT_CLOSED[status.refusal ?? ""];
  if (closed) {
    throw new Problem("login-refused", `Login refused by ${remote}: ${closed}`, status.refusal!);
  }
  return status;
}

/** An account the remote says may not open tunnels at all, in words with what fixes it. */
const ACCOUNT_CLOSED: Record<string, string> = {
  "over-quota":
    "the account has used up its quota; ask your admin for more, or wait for its reset.",
  "expired": "the account has expired; ask your admin to extend it.",
  "disabled": "the account is disabled; ask your admin.",
};

/**
 * Tells a plain Trojan server from a SwiftProxy remote that refused the login: with a login
 * nobody has, a SwiftProxy remote closes without a byte after a pause of at least 100 ms
 * (lib/remote/tunnel/server.ts), while a Trojan server hands the bytes to its fallback site, which
 * answers or fails at once.
 */
async function closesUnknownLoginAtOnce(
  endpoint: RemoteEndpoint,
  answerMs: number,
): Promise<boolean> {
  const nobody = crypto.randomUUID();
  try {
    const answer = await ask({ ...endpoint, user: nobody, password: nobody }, answerMs);
    return answer.bytes.length > 0 ||
      (!answer.timedOut && answer.closedAfterMs < SWIFTPROXY_PAUSE_MS);
  } catch {
    return false;
  }
}

/** The shortest pause before a SwiftProxy remote closes a connection with an unknown login. */
const SWIFTPROXY_PAUSE_MS = 90;

/** Opens a status tunnel and reads what comes back until the close (or `answerMs`). */
async function ask(
  endpoint: RemoteEndpoint,
  answerMs: number,
): Promise<{ bytes: Uint8Array; timedOut: boolean; closedAfterMs: number }> {
  const remote = formatHostPort(endpoint.remote);
  const dialer = new TunnelDialer({ ...endpoint, preconnect: 0 });
  let tunnel: Peer;
  try {
    const opened = await dialer.open({ host: STATUS_HOST, port: STATUS_PORT });
    tunnel = opened.peer;
    await tunnel.write(opened.first(new Uint8Array(0))).catch((error) => {
      opened.peer.close();
      throw error;
    });
  } catch (error) {
    if (error instanceof TunnelError) throw tunnelProblem(error, remote);
    throw new Problem(
      "remote-unreachable",
      `Remote unreachable: ${remote}: ${(error as Error).message}.`,
    );
  }
  const sent = performance.now();
  const signal = AbortSignal.timeout(answerMs);
  const expire = () => tunnel.close();
  signal.addEventListener("abort", expire, { once: true });
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for (;;) {
      const chunk = await tunnel.read();
      if (chunk === null) break;
      chunks.push(chunk);
      size += chunk.length;
      if (size > MAX_ANSWER) break;
    }
  } catch {
    // A close without TLS close_notify reads as an error; what came before still counts.
  } finally {
    signal.removeEventListener("abort", expire);
    tunnel.close();
  }
  return {
    bytes: concatAll(chunks, Math.min(size, MAX_ANSWER)),
    timedOut: signal.aborted,
    closedAfterMs: performance.now() - sent,
  };
}

function concatAll(chunks: Uint8Array[], size: number): Uint8Array {
  const out = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk.subarray(0, size - offset), offset);
    offset += Math.min(chunk.length, size - offset);
  }
  return out;
}
