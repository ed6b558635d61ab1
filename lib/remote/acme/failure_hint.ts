/**
 * What to check when an issuance fails, from the words of the CA's or the network's error:
 * the usual causes are a name that does not point here, a port the CA cannot reach, and
 * Let's Encrypt's rate limits.
 */

/** Where the CA knocks for HTTP-01. */
const PORT = "port 80 must be open and reach --acme-http";

/**
 * One sentence saying what to check for `error`.
 *
 * @example failureHint(new Error("Connection refused")) // "the CA could not connect: …"
 */
export function failureHint(error: unknown): string {
  // URLs left out: a challenge's token in one is random letters, which once read "CAa".
  const text = (error instanceof Error ? `${error.name} ${error.message}` : String(error))
    .replace(/https?:\/\/\S+/g, "<url>");
  const port = PORT;
  if (/rate ?limit|too many/i.test(text)) {
    return "the CA's rate limit was hit: wait (Let's Encrypt allows 5 failed validations an " +
      "hour and 5 certificates a week for the same names); retries back off by themselves";
  }
  if (
    /NXDOMAIN|no valid (A|AAAA)|DNS problem|SERVFAIL|no such host/i.test(text) ||
    /\bCAA\b/.test(text)
  ) {
    return "DNS: each name must have an A (or AAAA) record pointing to this server, and any " +
      "CAA record must allow the CA";
  }
  if (/unauthorized|incorrect|key ?authorization|returned 40\d|Non-200/i.test(text)) {
    return `another server answered the challenge: the name's DNS may point elsewhere (or a ` +
      `proxy or CDN is in front); ${port}`;
  }
  if (
    /connection|refused|timeout|timed out|reset|unreachable|urn:ietf:params:acme:error:(tls|connection)/i
      .test(text)
  ) {
    if (/ECONNREFUSED|ENOTFOUND|getaddrinfo|certificate|self.signed|directory/i.test(text)) {
      return "the ACME server could not be reached or not trusted: check --acme-directory, " +
        "this server's outbound HTTPS, and --acme-ca for a private CA";
    }
    return `the CA could not connect: ${port}, and the name's DNS must point to this server`;
  }
  return `check the names' DNS (pointing to this server) and that ${port}`;
}
