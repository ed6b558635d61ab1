/**
 * `--acme-http HOST:PORT`: a plain HTTP server that answers HTTP-01 challenges
 * (`GET /.well-known/acme-challenge/TOKEN`) and nothing else. The CA always asks on port 80:
 * listen there, or forward port 80 to it.
 */
import type { Destination } from "../../protocol/address.ts";
import type { Challenges } from "./challenges.ts";

const PREFIX = "/.well-known/acme-challenge/";

/**
 * The answer to one request: the key authorization for a known token, else 404.
 *
 * @example answerChallenge(new Request("http://x/.well-known/acme-challenge/t"), challenges)
 */
export function answerChallenge(request: Request, challenges: Challenges): Response {
  const path = new URL(request.url).pathname;
  const answer = request.method === "GET" && path.startsWith(PREFIX)
    ? challenges.http(path.slice(PREFIX.length))
    : undefined;
  if (answer === undefined) return new Response("not found\n", { status: 404 });
  return new Response(answer, { headers: { "content-type": "application/octet-stream" } });
}

/**
 * Serves HTTP-01 answers on `listen`.
 *
 * @throws {Deno.errors.AddrInUse} when the address is taken
 * @example const answerer = serveHttpChallenges({ host: "0.0.0.0", port: 80 }, challenges);
 */
export function serveHttpChallenges(
  listen: Destination,
  challenges: Challenges,
): Deno.HttpServer<Deno.NetAddr> {
  return Deno.serve(
    { hostname: listen.host, port: listen.port, onListen() {} },
    (request) => answerChallenge(request, challenges),
  );
}
