/** Why Connect failed, in words a user understands: the dashboard shows it, the CLI prints it. */
import { TunnelError } from "./tunnel.ts";
import type { RefusalReason } from "../../protocol/account_status.ts";

/** What went wrong, for the page to pick a hint and for tests to check. */
export type ProblemKind =
  | "settings"
  | "port-in-use"
  | "remote-unreachable"
  | "certificate-not-trusted"
  | "login-refused"
  | "not-swiftproxy";

/** A failure with a message meant for the user (no stack, no password). */
export class Problem extends Error {
  /** For a refused login: what the remote said of the account, when it said (quota, …). */
  readonly refusal?: RefusalReason;

  constructor(readonly kind: ProblemKind, message: string, refusal?: RefusalReason) {
    super(message);
    this.name = "Problem";
    if (refusal) this.refusal = refusal;
  }
}

/** A {@linkcode Problem} for a tunnel that could not open to `remote`. */
export function tunnelProblem(error: TunnelError, remote: string): Problem {
  if (error.kind === "tls") {
    const named = /the pinned certificate is not issued for (\S+) \(it names ([^)]*)\)/.exec(
      error.message,
    );
    if (named) {
      return new Problem(
        "certificate-not-trusted",
        `Wrong server name: ${remote} showed the pinned certificate, but it is not issued for ` +
          `"${named[1]}" (it names ${named[2]}). Set "Server name" to one of those, or ask the ` +
          `remote's admin for a new link.`,
      );
    }
    if (/not the pinned one/.test(error.message)) {
      return new Problem(
        "certificate-not-trusted",
        `Certificate not trusted: ${remote} showed a certificate that is not the pinned one. ` +
          `Someone may be in between; ask the remote's admin for a new link.`,
      );
    }
    if (
      /certificate|issuer|UnknownIssuer|NotValidForName|expired|self.signed|BadSignature/i.test(
        error.message,
      )
    ) {
      return new Problem(
        "certificate-not-trusted",
        `Certificate not trusted: ${remote} showed a certificate that could not be verified. ` +
          `Set "CA file" to the remote's certificate (tls/cert.pem in its data folder), or ` +
          `"Server name" to a name the certificate was issued for.`,
      );
    }
    return new Problem(
      "not-swiftproxy",
      `Not a SwiftProxy remote: ${remote} accepted the connection but does not speak TLS like one.`,
    );
  }
  const why = error.kind === "refused"
    ? "nothing accepts connections on that port"
    : error.kind === "timeout"
    ? "it did not answer in time"
    : "the address cannot be reached (check the name and your network)";
  return new Problem("remote-unreachable", `Remote unreachable: ${remote}: ${why}.`);
}
