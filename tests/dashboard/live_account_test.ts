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
 * A LiveAccount that has taken `first` as the remote's answer; `download` moves `n` bytes down
 * through one connection of its table, `answered` gives it the remote's next answer, and `shown`
 * is the download figure the card shows now for the last answer.
 */
function liveAfter(first: AccountStatus) {
  const table = new ConnectionTable();
  const meters = table.meters(table.add("127.0.0.1:50000", "SOCKS5"));
  const live = new LiveAccount(table);
  let last = first;
  live.answered(first);
  return {
    download: (n: number) => meters.down.take(n),
    answered(down: number) {
      last = answer(down);
      live.answered(last);
    },
    shown: () => live.view(last)!.usage.down,
  };
}

Deno.test("the card adds this local's bytes since the answer to the remote's figure", () => {
  const { download, shown } = liveAfter(answer(1_000));
  download(2_000);
  assertEquals(shown(), 3_000);
});

Deno.test("an answer that left the remote before the local's last bytes came does not take the card back", () => {
  const { download, answered, shown } = liveAfter(answer(1_000));
  download(1_500);
  // The remote counted 2,500 when it read the question; 500 more bytes came in before its
  // answer did, and are in neither figure: 2,500 + 0 would show less than 3,000 already shown.
  download(500);
  answered(2_500);
  assertEquals(shown(), 3_000);
  download(1_000);
  assertEquals(shown(), 4_000);
  // Usage from elsewhere (another device of the account) raises it.
  answered(10_000);
  assertEquals(shown(), 10_000);
});

Deno.test("a lower answer (the usage was reset) starts the card again from it", () => {
  const { download, answered, shown } = liveAfter(answer(5_000));
  download(2_000);
  answered(0);
  assertEquals(shown(), 0);
  download(300);
  assertEquals(shown(), 300);
});
