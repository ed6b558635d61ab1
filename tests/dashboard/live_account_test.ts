/**
 * The Account card's usage between two answers of the remote (`LiveAccount`): the remote's
 * figure plus what this local moved since, never going back while a download runs. The whole
 * chain (a real remote, its answers every 2 s): `account_card_test.ts`.
 */
import { assertEquals } from "../_assert.ts";
import type { AccountStatus } from "../../lib/protocol/account_status.ts";
import { ConnectionTable } from "../../lib/local/inbound/connections.ts";
import { LiveAccount } from "../../lib/local/dashboard/live_account.ts";

/** The remote's answer with `down` bytes used. */
const answer = (down: number): AccountStatus => ({
  server: "swiftproxy",
  version: "test",
  user: "alice",
  limits: { up: 0, down: 0, quota: 0, maxConns: 0 },
  usage: { up: 0, down },
  expiresAt: null,
  openConnections: 0,
});

/**
 * A LiveAccount that has taken `first` as the remote's answer, and a way to move `n` bytes down
 * through one connection of its table.
 */
function liveAfter(first: AccountStatus): { live: LiveAccount; download(n: number): void } {
  const table = new ConnectionTable();
  const meters = table.meters(table.add("127.0.0.1:50000", "SOCKS5"));
  const live = new LiveAccount(table);
  live.answered(first);
  return { live, download: (n) => meters.down.take(n) };
}

Deno.test("the card adds this local's bytes since the answer to the remote's figure", () => {
  const first = answer(1_000);
  const { live, download } = liveAfter(first);
  download(2_000);
  assertEquals(live.view(first)!.usage.down, 3_000);
});

Deno.test("an answer that left the remote before the local's last bytes came does not take the card back", () => {
  const { live, download } = liveAfter(answer(1_000));
  download(1_500);
  // The remote counted 2,500 when it read the question; 500 more bytes came in before its
  // answer did, and are in neither figure: 2,500 + 0 would show less than 3,000 already shown.
  download(500);
  const second = answer(2_500);
  live.answered(second);
  assertEquals(live.view(second)!.usage.down, 3_000);
  download(1_000);
  assertEquals(live.view(second)!.usage.down, 4_000);
  // Usage from elsewhere (another device of the account) raises it.
  const third = answer(10_000);
  live.answered(third);
  assertEquals(live.view(third)!.usage.down, 10_000);
});

Deno.test("a lower answer (the usage was reset) starts the card again from it", () => {
  const { live, download } = liveAfter(answer(5_000));
  download(2_000);
  const reset = answer(0);
  live.answered(reset);
  assertEquals(live.view(reset)!.usage.down, 0);
  download(300);
  assertEquals(live.view(reset)!.usage.down, 300);
});
