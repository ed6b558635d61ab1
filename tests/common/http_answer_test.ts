import { assertEquals } from "../_assert.ts";
import { answerBytes } from "../../lib/common/web/http_answer.ts";
import { decodeResponseHead } from "../../lib/protocol/http_proxy.ts";

Deno.test("answerBytes: one whole answer that closes, its head readable by decodeResponseHead", async () => {
  const response = new Response("héllo\n", {
    status: 303,
    headers: {
      location: "/",
      "set-cookie": "a=1",
      "content-length": "999",
      connection: "keep-alive",
    },
  });
  response.headers.append("set-cookie", "b=2");
  const bytes = await answerBytes(response);
  const head = decodeResponseHead(bytes)!;
  assertEquals(head.value.status, 303);
  assertEquals(head.value.reason, "See Other");
  assertEquals(
    head.value.headers,
    [
      ["content-type", "text/plain;charset=UTF-8"],
      ["location", "/"],
      ["set-cookie", "a=1"],
      ["set-cookie", "b=2"],
      ["content-length", "7"],
      ["connection", "close"],
    ],
  );
  assertEquals(new TextDecoder().decode(bytes.subarray(head.consumed)), "héllo\n");
  const headOnly = await answerBytes(new Response("page", { status: 200 }), true);
  const decoded = decodeResponseHead(headOnly)!;
  assertEquals(decoded.consumed, headOnly.length, "HEAD: no body");
  assertEquals(decoded.value.headers.find(([n]) => n === "content-length")?.[1], "4");
});
