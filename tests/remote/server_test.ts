/**
 * The remote in-process: after authentication it dispatches on the command, and every
 * finished CONNECT tunnel (a failed dial included) and UDP association publishes exactly one
 * `SessionEnd`.
 */
import { assert, assertEquals } from "../_assert.ts";
import { delay, freePort, startOrigin } from "../_harness.ts";
import { InProcessRemote } from "../_inprocess.ts";
import { trojan } from "../hardening/_helpers.ts";
import { encodeTrojanHeader, TrojanCommand, trojanToken } from "../../lib/protocol/trojan.ts";
import { encodeTrojanFrame } from "../../lib/protocol/trojan_udp.ts";
import type { SessionEnd } from "../../lib/common/ops/session_events.ts";

const CREDENTIAL = "alice:alice-secret";

Deno.test("remote: one SessionEnd per CONNECT tunnel, a failed dial included; none for a status check", async () => {
  const origin = startOrigin();
  const remote = await InProcessRemote.start();
  const ends: SessionEnd[] = [];
  remote.server.events.subscribe((end) => ends.push(end));
  try {
    const request = new TextEncoder().encode(
      "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    const ok = await trojan(remote, {
      credential: CREDENTIAL,
      destination: { host: "127.0.0.1", port: origin.port },
      payload: request,
    });
    assert(new TextDecoder().decode(ok.bytes).includes("says hello"), "the tunnel worked");
    const closedPort = freePort();
    const refused = await trojan(remote, {
      credential: CREDENTIAL,
      destination: { host: "127.0.0.1", port: closedPort },
    });
    assert(refused.closed && refused.bytes.length === 0, "a failed dial closes the tunnel");
    const status = await trojan(remote, {
      credential: CREDENTIAL,
      destination: { host: "status.swiftproxy.invalid", port: 1 },
    });
    assertEquals(JSON.parse(new TextDecoder().decode(status.bytes)).user, "alice");
    await delay(200);
    assertEquals(
      ends.map((e) => [e.user, e.protocol, e.command, e.destination, e.outcome.kind]),
      [
        ["alice", "trojan", "connect", `127.0.0.1:${origin.port}`, "done"],
        ["alice", "trojan", "connect", `127.0.0.1:${closedPort}`, "refused"],
      ],
    );
    assert(
      ends[0]!.up === request.length && ends[0]!.down > 0,
      `bytes: ${ends[0]!.up}/${ends[0]!.down}`,
    );
    assert(ends[1]!.error !== undefined, "the failed dial carries its error");
  } finally {
    await remote.stop();
    await origin.close();
  }
});

Deno.test("remote: a UDP association publishes one SessionEnd with command udp and its datagrams", async () => {
  const remote = await InProcessRemote.start();
  const ends: SessionEnd[] = [];
  remote.server.events.subscribe((end) => ends.push(end));
  const echo = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  const port = (echo.addr as Deno.NetAddr).port;
  try {
    const echoing = echo.receive().then(([data, from]) => echo.send(data, from));
    const datagram = new TextEncoder().encode("ping");
    const reply = await trojan(remote, {
      credential: CREDENTIAL,
      destination: { host: "127.0.0.1", port: 1 },
      raw: encodeTrojanHeader(
        {
          token: trojanToken(CREDENTIAL),
          command: TrojanCommand.udpAssociate,
          destination: { host: "0.0.0.0", port: 0 }, // a placeholder: frames carry the address
        },
        encodeTrojanFrame({ host: "127.0.0.1", port }, datagram),
      ),
      readMs: 500, // then the client hangs up, which ends the association
    });
    await echoing;
    assertEquals(reply.bytes, encodeTrojanFrame({ host: "127.0.0.1", port }, datagram));
    for (let i = 0; i < 100 && ends.length === 0; i++) await delay(20);
    assertEquals(ends.length, 1);
    const end = ends[0]!;
    assertEquals(
      [end.command, end.user, end.destination, end.up, end.down, end.datagrams, end.outcome.kind],
      ["udp", "alice", `127.0.0.1:${port}`, 4, 4, { up: 1, down: 1 }, "done"],
    );
  } finally {
    echo.close();
    await remote.stop();
  }
});
