import {
  decodeRequestHead,
  decodeResponseHead,
  encodeRequestHead,
  encodeResponseHead,
  headerValue,
  MAX_HEAD_BYTES,
  proxyTarget,
  simpleResponse,
  withoutHopByHop,
} from "../../lib/protocol/http_proxy.ts";
import type { Header, RequestHead } from "../../lib/protocol/http_proxy.ts";
import { ProtocolError } from "../../lib/protocol/errors.ts";
import { assertEquals, assertThrows, bytes } from "../_assert.ts";

const text = (b: Uint8Array) => String.fromCharCode(...b);

// --- request heads ---

Deno.test("decodeRequestHead reads CONNECT", () => {
  const wire = bytes(
    "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\nProxy-Connection: keep-alive\r\n\r\n",
  );
  assertEquals(decodeRequestHead(wire), {
    value: {
      method: "CONNECT",
      target: "example.com:443",
      version: "HTTP/1.1",
      headers: [["Host", "example.com:443"], ["Proxy-Connection", "keep-alive"]],
    },
    consumed: wire.length,
  });
});

Deno.test("decodeRequestHead reads an absolute-form GET and keeps header case and order", () => {
  const wire = bytes(
    "GET http://example.com/a?b=c HTTP/1.0\r\n",
    "host: example.com\r\n",
    "X-Custom:  spaced value \t\r\n",
    "x-custom: second\r\n",
    "Empty:\r\n",
    "\r\n",
  );
  assertEquals(decodeRequestHead(wire)?.value, {
    method: "GET",
    target: "http://example.com/a?b=c",
    version: "HTTP/1.0",
    headers: [
      ["host", "example.com"],
      ["X-Custom", "spaced value"],
      ["x-custom", "second"],
      ["Empty", ""],
    ],
  });
});

Deno.test("decodeRequestHead reads a head with no headers and leaves the body", () => {
  const head = "POST http://h/ HTTP/1.1\r\n\r\n";
  const wire = bytes(head, "body bytes");
  assertEquals(decodeRequestHead(wire), {
    value: { method: "POST", target: "http://h/", version: "HTTP/1.1", headers: [] },
    consumed: head.length,
  });
});

Deno.test("decodeRequestHead returns null at every truncated prefix", () => {
  const wire = bytes("GET http://example.com/ HTTP/1.1\r\nHost: example.com\r\n\r\n");
  for (let n = 0; n < wire.length; n++) {
    assertEquals(decodeRequestHead(wire.slice(0, n)), null, `prefix of ${n} bytes`);
  }
  // bare LF line endings never complete a head
  assertEquals(decodeRequestHead(bytes("GET http://h/ HTTP/1.1\nHost: h\n\n")), null);
});

Deno.test("decodeRequestHead refuses malformed request lines with 400", () => {
  for (
    const line of [
      "GET http://h/ HTTP/2.0",
      "GET http://h/ HTTP/1.1 extra",
      "GET  http://h/ HTTP/1.1",
      "GET http://h/",
      "GET http://h/ http/1.1",
      "G(T http://h/ HTTP/1.1",
      " GET http://h/ HTTP/1.1",
      "",
      "\x16\x03\x01",
    ]
  ) {
    const error = assertThrows(
      () => decodeRequestHead(bytes(line, "\r\nHost: h\r\n\r\n")),
      ProtocolError,
    );
    assertEquals(error.code, 400, JSON.stringify(line));
  }
});

Deno.test("decodeRequestHead refuses malformed header lines with 400", () => {
  for (
    const line of [
      "NoColon",
      ": empty name",
      "Bad Name: x",
      "Host : h",
      " folded: continuation",
      "\tfolded",
      "Bad\x7fName: x",
      "Na(me: x",
    ]
  ) {
    const error = assertThrows(
      () => decodeRequestHead(bytes("GET http://h/ HTTP/1.1\r\n", line, "\r\n\r\n")),
      ProtocolError,
    );
    assertEquals(error.code, 400, JSON.stringify(line));
  }
});

Deno.test("decodeRequestHead refuses an unfinished head over 64 KiB with 431", () => {
  assertEquals(MAX_HEAD_BYTES, 65536);
  const start = bytes("GET http://h/ HTTP/1.1\r\nX-Big: ");
  const atLimit = bytes(start, "a".repeat(MAX_HEAD_BYTES - start.length));
  assertEquals(decodeRequestHead(atLimit), null);
  const over = bytes(atLimit, "a");
  const error = assertThrows(() => decodeRequestHead(over), ProtocolError);
  assertEquals(error.code, 431);
});

Deno.test("decodeRequestHead with a smaller limit refuses a head past it, complete or not, with 431", () => {
  const wire = bytes("GET /sub/T HTTP/1.1\r\nX-Big: ", "a".repeat(100), "\r\n\r\n");
  assertEquals(decodeRequestHead(wire, wire.length)?.consumed, wire.length);
  for (let n = 0; n < wire.length; n++) {
    assertEquals(decodeRequestHead(wire.slice(0, n), wire.length), null, `prefix of ${n} bytes`);
  }
  const complete = assertThrows(() => decodeRequestHead(wire, wire.length - 1), ProtocolError);
  assertEquals(complete.code, 431);
  const unfinished = assertThrows(() => decodeRequestHead(wire.slice(0, 60), 59), ProtocolError);
  assertEquals(unfinished.code, 431);
});

Deno.test({
  name: "decodeRequestHead refuses a complete head over 64 KiB with 431",
  // BUG: splitHead only checks the size when no CRLF CRLF was found, so a head larger than
  // 64 KiB that arrives complete in one buffer (a large read, or bytes accumulated while the
  // client trickled) is accepted. Expected ProtocolError code 431; actual: decoded normally.
  // was ignore: true (bug since fixed)
  fn() {
    const wire = bytes("GET http://h/ HTTP/1.1\r\nX-Big: ", "a".repeat(70_000), "\r\n\r\n");
    const error = assertThrows(() => decodeRequestHead(wire), ProtocolError);
    assertEquals(error.code, 431);
  },
});

Deno.test("a small head followed by a large body is not refused as too large", () => {
  const head = "POST http://h/ HTTP/1.1\r\nContent-Length: 100000\r\n\r\n";
  const wire = bytes(head, new Uint8Array(100_000));
  assertEquals(decodeRequestHead(wire)?.consumed, head.length);
});

// --- response heads ---

Deno.test("decodeResponseHead reads status, reason and headers", () => {
  const head = "HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\nServer: x\r\n\r\n";
  assertEquals(decodeResponseHead(bytes(head, "abc")), {
    value: {
      version: "HTTP/1.1",
      status: 404,
      reason: "Not Found",
      headers: [["Content-Length", "3"], ["Server", "x"]],
    },
    consumed: head.length,
  });
});

Deno.test("decodeResponseHead accepts an empty or missing reason", () => {
  assertEquals(decodeResponseHead(bytes("HTTP/1.0 200\r\n\r\n"))?.value, {
    version: "HTTP/1.0",
    status: 200,
    reason: "",
    headers: [],
  });
  assertEquals(decodeResponseHead(bytes("HTTP/1.1 204 \r\n\r\n"))?.value.reason, "");
  assertEquals(
    decodeResponseHead(bytes("HTTP/1.1 200 Very  OK: yes\r\n\r\n"))?.value.reason,
    "Very  OK: yes",
  );
});

Deno.test("decodeResponseHead returns null at every truncated prefix", () => {
  const wire = bytes("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
  for (let n = 0; n < wire.length; n++) {
    assertEquals(decodeResponseHead(wire.slice(0, n)), null, `prefix of ${n} bytes`);
  }
});

Deno.test("decodeResponseHead refuses malformed heads with 502", () => {
  for (
    const head of [
      "HTTP/1.1 20 OK\r\n\r\n",
      "HTTP/1.1 2000 OK\r\n\r\n",
      "HTTP/2 200 OK\r\n\r\n",
      "HTTP/1.1 OK\r\n\r\n",
      "ICY 200 OK\r\n\r\n",
      "SSH-2.0-OpenSSH\r\n\r\n",
      "HTTP/1.1 200 OK\r\nBroken header\r\n\r\n",
    ]
  ) {
    const error = assertThrows(() => decodeResponseHead(bytes(head)), ProtocolError);
    assertEquals(error.code, 502, JSON.stringify(head));
  }
});

// --- encoding ---

Deno.test("encodeRequestHead writes origin-form heads and round-trips", () => {
  const head: RequestHead = {
    method: "GET",
    target: "/a?b=c",
    version: "HTTP/1.1",
    headers: [["Host", "example.com"], ["Accept", "*/*"]],
  };
  const wire = encodeRequestHead(head);
  assertEquals(text(wire), "GET /a?b=c HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n\r\n");
  assertEquals(decodeRequestHead(wire), { value: head, consumed: wire.length });
  assertEquals(
    text(encodeRequestHead({ method: "GET", target: "/", version: "HTTP/1.0", headers: [] })),
    "GET / HTTP/1.0\r\n\r\n",
  );
});

Deno.test("encodeResponseHead writes heads and round-trips", () => {
  const head = {
    version: "HTTP/1.1",
    status: 301,
    reason: "Moved Permanently",
    headers: [["Location", "http://example.com/"]] as Header[],
  };
  const wire = encodeResponseHead(head);
  assertEquals(
    text(wire),
    "HTTP/1.1 301 Moved Permanently\r\nLocation: http://example.com/\r\n\r\n",
  );
  assertEquals(decodeResponseHead(wire), { value: head, consumed: wire.length });
});

Deno.test("header bytes 0x80-0xff survive decode and re-encode (latin1 range)", () => {
  const wire = bytes("HTTP/1.1 200 OK\r\nX-Latin1: caf", [0xe9], "\r\n\r\n");
  const decoded = decodeResponseHead(wire)!;
  assertEquals(encodeResponseHead(decoded.value), wire);
});

Deno.test({
  name: "UTF-8 header values survive decode and re-encode byte for byte",
  // BUG: splitHead decodes with new TextDecoder("latin1"), which the Encoding standard maps to
  // windows-1252: bytes 0x80-0x9f become other code points (0x82 -> U+201A, 0x80 -> U+20AC), and
  // latin1() re-encodes them as charCode & 0xff. So "€" (UTF-8 e2 82 ac) in a forwarded header
  // becomes e2 1a ac. Expected the original bytes back; actual: 0x82 changed to 0x1a.
  // was ignore: true (bug since fixed)
  fn() {
    const wire = bytes("GET / HTTP/1.1\r\nX-Price: 5 ", [0xe2, 0x82, 0xac], "\r\n\r\n");
    const decoded = decodeRequestHead(wire)!;
    assertEquals(encodeRequestHead(decoded.value), wire);
    const all = bytes("HTTP/1.1 200 OK\r\nX-Raw: ", Array.from({ length: 128 }, (_, i) => i + 128));
    const response = bytes(all, "\r\n\r\n");
    assertEquals(encodeResponseHead(decodeResponseHead(response)!.value), response);
  },
});

Deno.test("simpleResponse writes the proxy's own answers", () => {
  assertEquals(
    text(simpleResponse(200, "Connection established")),
    "HTTP/1.1 200 Connection established\r\n\r\n",
  );
  assertEquals(
    text(simpleResponse(502, "Bad Gateway")),
    "HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/plain\r\nContent-Length: 16\r\n" +
      "Connection: close\r\n\r\n502 Bad Gateway\n",
  );
  const keepAlive = text(simpleResponse(407, "Proxy Authentication Required", false));
  assertEquals(keepAlive.includes("Connection: close"), false);
  const parsed = decodeResponseHead(simpleResponse(404, "Not Found"))!;
  assertEquals(parsed.value.status, 404);
  assertEquals(headerValue(parsed.value.headers, "content-length"), "14");
});

// --- headerValue ---

Deno.test("headerValue finds the first header, case-insensitively", () => {
  const headers: Header[] = [["Host", "a"], ["X-A", "1"], ["x-a", "2"]];
  assertEquals(headerValue(headers, "host"), "a");
  assertEquals(headerValue(headers, "HOST"), "a");
  assertEquals(headerValue(headers, "X-a"), "1");
  assertEquals(headerValue(headers, "missing"), undefined);
  assertEquals(headerValue([], "host"), undefined);
});

// --- proxyTarget ---

const request = (method: string, target: string): RequestHead => ({
  method,
  target,
  version: "HTTP/1.1",
  headers: [],
});

Deno.test("proxyTarget reads CONNECT host:port", () => {
  assertEquals(proxyTarget(request("CONNECT", "example.com:443")), {
    destination: { host: "example.com", port: 443 },
    path: "",
  });
  assertEquals(proxyTarget(request("CONNECT", "[::1]:8443")), {
    destination: { host: "::1", port: 8443 },
    path: "",
  });
  assertEquals(proxyTarget(request("CONNECT", "10.0.0.1:22")), {
    destination: { host: "10.0.0.1", port: 22 },
    path: "",
  });
});

Deno.test("proxyTarget refuses a CONNECT without a valid port with 400", () => {
  for (
    const target of ["example.com", "example.com:0", "example.com:65536", "::1:443", "[::1]", "/"]
  ) {
    const error = assertThrows(() => proxyTarget(request("CONNECT", target)), ProtocolError);
    assertEquals(error.code, 400, target);
  }
});

Deno.test("proxyTarget reads absolute-form http:// URLs", () => {
  const cases: [string, string, number, string][] = [
    ["http://example.com/", "example.com", 80, "/"],
    ["http://example.com", "example.com", 80, "/"],
    ["http://example.com:8080/a/b?c=d&e", "example.com", 8080, "/a/b?c=d&e"],
    ["http://example.com/page#fragment", "example.com", 80, "/page"],
    ["http://[::1]:8080/x", "::1", 8080, "/x"],
    ["http://[::1]/", "::1", 80, "/"],
    ["http://[2001:db8::1]:81/?q", "2001:db8::1", 81, "/?q"],
    ["http://127.0.0.1:3000/api", "127.0.0.1", 3000, "/api"],
    ["HTTP://EXAMPLE.COM/Path", "example.com", 80, "/Path"],
    ["http://user:pass@example.com/", "example.com", 80, "/"],
  ];
  for (const [target, host, port, path] of cases) {
    assertEquals(
      proxyTarget(request("GET", target)),
      { destination: { host, port }, path },
      target,
    );
  }
});

Deno.test("proxyTarget refuses other schemes and origin-form with 400", () => {
  for (
    const target of [
      "https://example.com/",
      "ftp://example.com/",
      "ws://example.com/",
      "file:///etc/passwd",
      "/index.html",
      "*",
      "example.com:80",
      "",
    ]
  ) {
    const error = assertThrows(() => proxyTarget(request("GET", target)), ProtocolError);
    assertEquals(error.code, 400, target);
  }
  assertThrows(
    () => proxyTarget(request("GET", "https://example.com/")),
    ProtocolError,
    "https:",
  );
});

// --- withoutHopByHop ---

Deno.test("withoutHopByHop drops the RFC 9110 hop-by-hop headers", () => {
  const headers: Header[] = [
    ["Host", "example.com"],
    ["Connection", "keep-alive"],
    ["Keep-Alive", "timeout=5"],
    ["Proxy-Connection", "keep-alive"],
    ["Proxy-Authorization", "Basic YTpi"],
    ["Proxy-Authenticate", "Basic"],
    ["TE", "trailers"],
    ["Trailer", "Expires"],
    ["Upgrade", "websocket"],
    ["Accept", "*/*"],
    ["Transfer-Encoding", "chunked"],
  ];
  assertEquals(withoutHopByHop(headers), [
    ["Host", "example.com"],
    ["Accept", "*/*"],
    ["Transfer-Encoding", "chunked"],
  ]);
});

Deno.test("withoutHopByHop is case-insensitive", () => {
  assertEquals(
    withoutHopByHop([["CONNECTION", "close"], ["keep-ALIVE", "1"], ["x-ok", "1"]]),
    [["x-ok", "1"]],
  );
});

Deno.test("withoutHopByHop drops headers named in Connection and Proxy-Connection", () => {
  const headers: Header[] = [
    ["Connection", "close, X-Secret , x-other"],
    ["Proxy-Connection", "X-Proxy-Only"],
    ["X-Secret", "1"],
    ["X-OTHER", "2"],
    ["X-Proxy-Only", "3"],
    ["X-Kept", "4"],
  ];
  assertEquals(withoutHopByHop(headers), [["X-Kept", "4"]]);
  // several Connection headers
  assertEquals(
    withoutHopByHop([["Connection", "a"], ["Connection", "b"], ["a", "1"], ["b", "2"], ["c", "3"]]),
    [["c", "3"]],
  );
});

Deno.test("withoutHopByHop keeps Transfer-Encoding even when Connection names it", () => {
  assertEquals(
    withoutHopByHop([["Connection", "Transfer-Encoding, X-A"], ["Transfer-Encoding", "chunked"], [
      "X-A",
      "1",
    ]]),
    [["Transfer-Encoding", "chunked"]],
  );
});

Deno.test("withoutHopByHop leaves a head without hop-by-hop headers unchanged", () => {
  const headers: Header[] = [["Host", "h"], ["Content-Length", "3"], ["Cookie", "a=b"]];
  assertEquals(withoutHopByHop(headers), headers);
  assertEquals(withoutHopByHop([]), []);
});
