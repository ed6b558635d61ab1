/** The subscription scrub finds a token after `/sub/` however the stream is cut into chunks. */
import { assert, assertEquals } from "../_assert.ts";
import { SubscriptionScrub } from "../../lib/remote/tunnel/token_scrub.ts";

const TOKEN = "zta16GNysiRrTtnBhFVb3roIfAfLsFupta5bbzUsk5Y";
const STREAM = `GET /sub/${TOKEN}/clash HTTP/1.1\r\nReferer: https://x/sub/${TOKEN}\r\n\r\n`;

Deno.test("SubscriptionScrub: every token after /sub/ is replaced, at every cut of the stream", () => {
  const bytes = new TextEncoder().encode(STREAM);
  for (let cut = 0; cut <= bytes.length; cut++) {
    const scrub = new SubscriptionScrub();
    const first = bytes.slice(0, cut);
    const second = bytes.slice(cut);
    scrub.scrub(first);
    scrub.scrub(second);
    const out = new TextDecoder().decode(new Uint8Array([...first, ...second]));
    assertEquals(out.length, STREAM.length, `cut at ${cut}`);
    assert(!out.includes(TOKEN.slice(0, 8)) && !out.includes(TOKEN.slice(-8)), out);
    const shape =
      /^GET \/sub\/[A-Za-z0-9_-]{43}\/clash HTTP\/1\.1\r\nReferer: https:\/\/x\/sub\/[A-Za-z0-9_-]{43}\r\n\r\n$/;
    assert(shape.test(out), `the rest unchanged, cut at ${cut}: ${out}`);
  }
});

Deno.test("SubscriptionScrub: bytes without /sub/ pass unchanged", () => {
  const text = "GET /subscribe/x HTTP/1.1\r\nHost: sub.example\r\n\r\n/su/b//sub";
  const bytes = new TextEncoder().encode(text);
  new SubscriptionScrub().scrub(bytes);
  assertEquals(new TextDecoder().decode(bytes), text);
});
