/**
 * The HTTP-01 answers of the challenges under validation, in memory: key authorizations by
 * token. The issuer adds one before telling the CA to look and removes it after; the answerer
 * on `--acme-http` reads them.
 */

/** The challenges the CA may be checking right now. */
export class Challenges {
  readonly #http = new Map<string, string>();

  /** Answers `/.well-known/acme-challenge/TOKEN` with `keyAuthorization` until removed. */
  addHttp(token: string, keyAuthorization: string): void {
    this.#http.set(token, keyAuthorization);
  }

  removeHttp(token: string): void {
    this.#http.delete(token);
  }

  /** The key authorization for `token`, or undefined. */
  http(token: string): string | undefined {
    return this.#http.get(token);
  }
}
