/**
 * Prints the TLS ClientHello fingerprint (JA3, JA4, ALPN, lists) of every client that connects,
 * for comparing the local's hello with browsers' and other Trojan clients' (docs/SECURITY.md).
 * Listens on loopback; each connection is closed once its hello is read.
 *
 *   deno run -A scripts/client_hello.ts [PORT] [SECONDS]
 */
import { catchHellos, ja3, ja4 } from "../tests/_client_hello.ts";

const port = Number(Deno.args[0] ?? 0);
const seconds = Number(Deno.args[1] ?? 60);
const catcher = catchHellos(port);
console.log(`listening on 127.0.0.1:${catcher.port}`);
const deadline = Date.now() + seconds * 1000;
for (let seen = 0; Date.now() < deadline;) {
  const hello = await catcher.next(deadline - Date.now()).catch(() => null);
  if (!hello) break;
  seen++;
  const { text, md5 } = ja3(hello);
  console.log(JSON.stringify({
    hello: seen,
    ja4: ja4(hello),
    ja3: md5,
    ja3Text: text,
    alpn: hello.alpn,
    sni: hello.sni ?? null,
    versions: hello.versions,
    ciphers: hello.ciphers.length,
    extensions: hello.extensions,
    groups: hello.groups,
    signatureAlgorithms: hello.signatureAlgorithms.length,
  }));
}
catcher.close();
