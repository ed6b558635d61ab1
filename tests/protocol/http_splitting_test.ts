/**
 * Response splitting and request smuggling through the HTTP proxy's codecs: CR, LF and NUL
 * inside a head's lines and LF inside chunk extensions are refused (400 for a request, 502 for a
 * response; RFC 9110 §5.5, RFC 9112 §2.2); forwarded heads carry one framing and the URL's Host.
 */
import { decodeRequestHead, decodeResponseHead } from "../../lib/protocol/http_proxy.ts";
import type { RequestHead, ResponseHead } from "../../lib/protocol/http_proxy.ts";
import { forwardRequestHead, forwardResponseHead } from "../../lib/protocol/http_forward.ts";
import { BodyFramer } from "../../lib/protocol/http_body.ts";
import { ProtocolError } from "../../lib/protocol/errors.ts";
import { assertEquals, assertThrows, bytes } from "../_assert.ts";

const BAD_BYTES = [["LF", 0x0a], ["CR", 0x0d], ["NUL", 0x00]] as const;

Deno.test("a CR, LF or NUL inside a request header value or line is refused with 400", () => {
  for (const [name, byte] of BAD_BYTES) {
    const vectors = [
      bytes("GET http://h/ HTTP/1.1\r\nX-A: a", [byte], "Transfer-Encoding: chunked\r\n\r\n"),
      bytes("GET http://h/ HTTP/1.1\r\nX-A: ", [byte], "\r\n\r\n"),
      bytes("GET http://h/", [byte], " HTTP/1.1\r\n\r\n"),
    ];
    for (const wire of vectors) {
      const error = assertThrows(() => decodeRequestHead(wire), ProtocolError);
      assertEquals(error.code, 400, name);
    }
  }
});

Deno.test("a CR, LF or NUL inside a response header value or line is refused with 502", () => {
  for (const [name, byte] of BAD_BYTES) {
    const vectors = [
      bytes("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: a", [byte], "Transfer-Encoding: chunked"),
      bytes("HTTP/1.1 200 O", [byte], "K\r\nContent-Length: 0"),
    ];
    for (const vector of vectors) {
      const wire = bytes(vector, "\r\n\r\n");
      const error = assertThrows(() => decodeResponseHead(wire), ProtocolError);
      assertEquals(error.code, 502, name);
    }
  }
});

Deno.test("a LF or NUL inside a chunk extension or trailer is refused, whole or byte by byte", () => {
  const vectors = [
    bytes("5;ext\nX: 1\r\nhello\r\n0\r\n\r\n"),
    bytes("5;ext=", [0], "\r\nhello\r\n0\r\n\r\n"),
    bytes("5 \n\r\nhello\r\n0\r\n\r\n"),
    bytes("0\r\nX-Trailer: a\nb\r\n\r\n"),
  ];
  for (const wire of vectors) {
    assertThrows(() => new BodyFramer({ kind: "chunked" }).feed(wire), ProtocolError);
    const framer = new BodyFramer({ kind: "chunked" });
    assertThrows(() => {
      for (const byte of wire) framer.feed(Uint8Array.of(byte));
    }, ProtocolError);
  }
  // An extension without them still passes through.
  const fine = bytes('5;name="v a"\r\nhello\r\n0\r\n\r\n');
  assertEquals(new BodyFramer({ kind: "chunked" }).feed(fine), fine.length);
});

Deno.test("a forwarded request's Host is the absolute URL's authority, whatever the client sent", () => {
  const head: RequestHead = {
    method: "GET",
    target: "http://good.example:8080/a",
    version: "HTTP/1.1",
    headers: [["host", "evil.example"], ["Accept", "*/*"], ["HOST", "other.example"]],
  };
  const destination = { host: "good.example", port: 8080 };
  assertEquals(forwardRequestHead(head, { destination, path: "/a" }), {
    method: "GET",
    target: "/a",
    version: "HTTP/1.1",
    headers: [["Host", "good.example:8080"], ["Accept", "*/*"]],
  });
  const plain = forwardRequestHead({ ...head, headers: [] }, {
    destination: { host: "::1", port: 80 },
    path: "/",
  });
  assertEquals(plain.headers, [["Host", "[::1]"]]);
});

Deno.test("a forwarded response framed by Transfer-Encoding loses its Content-Length", () => {
  const head: ResponseHead = {
    version: "HTTP/1.1",
    status: 200,
    reason: "OK",
    headers: [["Content-Length", "10"], ["Transfer-Encoding", "chunked"], ["Keep-Alive", "x"]],
  };
  assertEquals(forwardResponseHead(head, true).headers, [
    ["Transfer-Encoding", "chunked"],
    ["Connection", "close"],
  ]);
  const length = { ...head, headers: [["Content-Length", "10"]] as [string, string][] };
  assertEquals(forwardResponseHead(length, false).headers, [["Content-Length", "10"]]);
});
