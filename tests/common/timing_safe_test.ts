import { assertEquals } from "../_assert.ts";
import { timingSafeEqual } from "../../lib/common/security/timing_safe.ts";

Deno.test("timingSafeEqual is true only for the same bytes, strings compared as UTF-8", () => {
  assertEquals(timingSafeEqual("alice-secret", "alice-secret"), true);
  assertEquals(timingSafeEqual("", ""), true);
  assertEquals(timingSafeEqual("alice-secret", "alice-secreT"), false);
  assertEquals(timingSafeEqual("alice", "alice-secret"), false);
  assertEquals(timingSafeEqual("alice-secret", "alice"), false);
  assertEquals(timingSafeEqual("", "a"), false);
  assertEquals(timingSafeEqual("pässword", new TextEncoder().encode("pässword")), true);
  assertEquals(timingSafeEqual(Uint8Array.of(1, 2, 3), Uint8Array.of(1, 2, 4)), false);
  // A shorter value padded with zero bytes is still a different value.
  assertEquals(timingSafeEqual(Uint8Array.of(1, 0), Uint8Array.of(1)), false);
});
