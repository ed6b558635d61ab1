/**
 * freePort (tests/_net.ts) hands a port to one test file at a time: two files whose walks
 * meet (here: both start at the same place) never get the same port while neither has bound
 * it yet, which a bind-and-release probe alone could not tell.
 */
import { assertEquals } from "../_assert.ts";
import { freePort } from "../_net.ts";

/**
 * A separate Deno program that takes `count` ports from offset `from`, prints them, and holds
 * its claims (a test file's end releases them) until `release` is called.
 */
function walk(from: number, count: number) {
  const code = `import { freePort } from ${JSON.stringify(import.meta.resolve("../_net.ts"))};
    console.log(JSON.stringify(Array.from({ length: ${count} }, () => freePort())));
    for await (const _ of Deno.stdin.readable);`;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["eval", "--no-check", code],
    env: { SWIFTPROXY_TEST_PORTS_FROM: String(from), NO_COLOR: "1" },
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const ports = (async () => {
    let text = "";
    for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
      text += chunk;
      if (text.includes("\n")) break;
    }
    return JSON.parse(text) as number[];
  })();
  return {
    ports,
    async release() {
      await child.stdin.close();
      assertEquals((await child.status).code, 0);
    },
  };
}

Deno.test("freePort: two test files walking the same ports never get the same one", async () => {
  const from = (freePort() - 10000 + 1000) % 22000;
  const walks = [walk(from, 200), walk(from, 200)];
  try {
    const [a, b] = await Promise.all(walks.map((w) => w.ports));
    assertEquals(new Set([...a!, ...b!]).size, 400, "a port was handed out twice");
  } finally {
    await Promise.all(walks.map((w) => w.release()));
  }
});
