import { inCidr, ipBytes, parseCidr } from "../../lib/common/security/cidr.ts";
import { assert, assertEquals, assertThrows } from "../_assert.ts";

Deno.test("parseCidr takes an address or a range, both families", () => {
  assertEquals(parseCidr("10.0.0.0/8").prefix, 8 + 96);
  assertEquals(parseCidr("fc00::/7").prefix, 7);
  assertEquals(parseCidr("127.0.0.1").prefix, 128);
  assert(inCidr(ipBytes("10.1.2.3")!, parseCidr("10.0.0.0/8")));
});

Deno.test("parseCidr refuses what follows a second slash instead of ignoring it", () => {
  for (
    const text of ["10.0.0.0/8/junk", "10.0.0.0/8/", "fc00::/7/7", "10.0.0.0/x", "10.0.0.0/33"]
  ) {
    assertThrows(() => parseCidr(text), RangeError, "expected an address range");
  }
});
