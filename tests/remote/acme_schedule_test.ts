/** When `--acme` renews and retries, and what a failure tells the admin to check. */
import { assert, assertEquals } from "../_assert.ts";
import { renewalTime, retryDelay } from "../../lib/remote/acme/schedule.ts";
import { failureHint } from "../../lib/remote/acme/failure_hint.ts";

const DAY = 24 * 60 * 60_000;

Deno.test("a 90-day certificate renews at day 60, moved by at most 3 days", () => {
  const validity = { notBefore: 0, notAfter: 90 * DAY };
  assertEquals(renewalTime(validity, () => 0.5), 60 * DAY);
  assertEquals(renewalTime(validity, () => 0), 57 * DAY);
  assertEquals(renewalTime(validity, () => 1), 63 * DAY);
});

Deno.test("failed issuances wait longer each time, up to six hours", () => {
  const fixed = { random: () => 0 };
  assertEquals([1, 2, 3].map((n) => retryDelay(n, fixed)), [60_000, 120_000, 240_000]);
  assertEquals(retryDelay(50, fixed), 6 * 60 * 60_000);
  assert(retryDelay(1, { random: () => 1 }) <= 66_000);
});

Deno.test("a failure names what to check", () => {
  assert(/rate limit/.test(failureHint(new Error("urn:ietf:params:acme:error:rateLimited"))));
  assert(/DNS/.test(failureHint(new Error("DNS problem: NXDOMAIN looking up A"))));
  assert(/port 80/.test(failureHint(new Error("Connection refused"))));
  assert(/another server/.test(failureHint(new Error("returned 404"))));
  // A token in the challenge URL that reads "CAa" is no CAA record (seen once in the suite).
  const token =
    "http://c.swiftproxy.test:24852/.well-known/acme-challenge/v9HZpM9ZC9dN2Bky76CAasy47";
  assert(
    /another server/.test(
      failureHint(new Error(`Non-200 status code from HTTP: ${token} returned 404`)),
    ),
  );
  assert(/DNS/.test(failureHint(new Error("CAA record for example.org prevents issuance"))));
  assert(/--acme-directory/.test(failureHint(new Error("connect ECONNREFUSED 127.0.0.1:1"))));
});
