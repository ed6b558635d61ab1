import { assertEquals } from "../_assert.ts";
import { cookieValue, cookieValues, setCookie } from "../../lib/common/web/cookies.ts";

const headers = (cookie: string) => new Headers({ cookie });

Deno.test("cookieValues finds every value of one name, exactly named, `=` inside kept", () => {
  const sent = headers("a=1; swiftproxy_ui_9090=t=k==;b=2;  swiftproxy_ui_9090 = second ; A=3");
  assertEquals(cookieValues(sent, "swiftproxy_ui_9090"), ["t=k==", "second"]);
  assertEquals(cookieValues(sent, "a"), ["1"]);
  assertEquals(cookieValues(sent, "A"), ["3"], "names are case-sensitive");
  assertEquals(cookieValue(sent, "b"), "2");
  assertEquals(cookieValue(sent, "swiftproxy_ui_9090"), "t=k==", "the first of two");
});

Deno.test("cookie parsing: no header, empty parts, a part without `=`, a prefix of a name", () => {
  assertEquals(cookieValues(new Headers(), "a"), []);
  assertEquals(cookieValue(new Headers(), "a"), undefined);
  assertEquals(cookieValues(headers(";;; a ;=x; ab=1; a="), "a"), [""]);
  assertEquals(cookieValues(headers("ab=1; xa=2"), "a"), []);
  assertEquals(cookieValues(headers("=x"), ""), ["x"]);
});

Deno.test("setCookie writes Path=/ and the options asked for", () => {
  assertEquals(
    setCookie("swiftproxy_lang", "zh-CN", { maxAgeS: 31536000, sameSite: "Lax" }),
    "swiftproxy_lang=zh-CN; Path=/; Max-Age=31536000; SameSite=Lax",
  );
  assertEquals(
    setCookie("__Host-swiftproxy_admin", "id", {
      maxAgeS: 3600.9,
      httpOnly: true,
      sameSite: "Strict",
      secure: true,
    }),
    "__Host-swiftproxy_admin=id; Path=/; Max-Age=3600; HttpOnly; SameSite=Strict; Secure",
  );
  assertEquals(
    setCookie("swiftproxy_ui_9090", "t", { httpOnly: true, sameSite: "Strict" }),
    "swiftproxy_ui_9090=t; Path=/; HttpOnly; SameSite=Strict",
  );
  assertEquals(
    setCookie("s", "", { maxAgeS: 0, sameSite: "Strict" }),
    "s=; Path=/; Max-Age=0; SameSite=Strict",
  );
});
