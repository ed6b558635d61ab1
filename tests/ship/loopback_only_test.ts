/**
 * `deno task test` (scripts/test.ts) runs the suite where only loopback exists, wherever it can
 * make a network namespace: nothing a test starts can reach another address.
 */
import { assertEquals } from "../_assert.ts";

Deno.test({
  name: "deno task test: the suite sees only loopback addresses",
  // Run straight (`deno test FILE`), or where no namespace could be made: nothing to check.
  ignore: Deno.env.get("SWIFTPROXY_TEST_NETNS") !== "1",
  fn() {
    const outside = Deno.networkInterfaces().filter((i) =>
      !(i.family === "IPv4" ? i.address.startsWith("127.") : i.address === "::1")
    );
    assertEquals(outside.map((i) => `${i.name} ${i.address}`), []);
  },
});
