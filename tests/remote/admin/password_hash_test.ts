import { hashPassword, verifyPassword } from "../../../lib/remote/admin/password_hash.ts";
import { assertEquals } from "../../_assert.ts";

Deno.test("verifyPassword: a damaged stored hash is a wrong password, not a thrown error", async () => {
  const stored = await hashPassword("correct horse");
  assertEquals(await verifyPassword("correct horse", stored), true);
  assertEquals(await verifyPassword("wrong", stored), false);
  const [scheme, , r, p, salt, hash] = stored.split("$");
  for (const n of ["x", "3", "-1", "0"]) {
    assertEquals(
      await verifyPassword("correct horse", [scheme, n, r, p, salt, hash].join("$")),
      false,
    );
  }
});
