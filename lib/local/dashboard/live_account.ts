/**
 * The account as the dashboard shows it: the remote's last answer plus what this local has
 * seen since (bytes moved, connections opened or closed), so the card is current between
 * two account checks instead of lagging by one.
 */
import type { AccountStatus } from "../tunnel/account_check.ts";
import type { ConnectionTable } from "../inbound/connections.ts";

/** What the local's table held when an answer came. */
interface Base {
  account: AccountStatus;
  up: number;
  down: number;
  open: number;
}

/** Usage minus the local's own bytes, per direction: the card shows this plus the table's. */
interface Offset {
  up: number;
  down: number;
}

/**
 * Adds the local's own traffic since the last account check to the remote's figures.
 *
 * An answer is the remote's count when it read the question, but is noted here when it
 * arrives: bytes that came in between are counted in neither. While a download runs fast that
 * made the card go back by a few hundred KB at a new answer, below what this local itself had
 * moved. So the card keeps the highest of the answers' figures brought up to now; a lower answer
 * (the usage was reset) starts again from it.
 *
 * @example
 * const live = new LiveAccount(control.connections);
 * control.watch(() => live.answered(control.account));
 * live.view(control.account)?.usage.down
 */
export class LiveAccount {
  readonly #table: ConnectionTable;
  #base: Base | null = null;
  #offset: Offset = { up: 0, down: 0 };

  constructor(table: ConnectionTable) {
    this.#table = table;
  }

  /** Notes the table's figures when a new answer arrives; call on every change. */
  answered(account: AccountStatus | null): void {
    if (account === null || account === this.#base?.account) return;
    const before = this.#base?.account.usage;
    const up = this.#table.totalUp;
    const down = this.#table.totalDown;
    this.#offset = {
      up: keep(before?.up, account.usage.up, this.#offset.up, account.usage.up - up),
      down: keep(before?.down, account.usage.down, this.#offset.down, account.usage.down - down),
    };
    this.#base = { account, up, down, open: this.#tunnels() };
  }

  /** `account` with usage and open connections brought up to now, or null for none. */
  view(account: AccountStatus | null): AccountStatus | null {
    if (account === null) return null;
    this.answered(account);
    const base = this.#base!;
    return {
      ...account,
      usage: {
        up: Math.max(account.usage.up, this.#offset.up + this.#table.totalUp),
        down: Math.max(account.usage.down, this.#offset.down + this.#table.totalDown),
      },
      openConnections: Math.max(0, account.openConnections + this.#tunnels() - base.open),
    };
  }

  /** Open connections past their handshake and not refused (those the remote can count). */
  #tunnels(): number {
    let count = 0;
    for (const { destination } of this.#table.list()) {
      if (destination !== "" && destination !== "-") count++;
    }
    return count;
  }
}

/**
 * The offset to keep in one direction: the new answer's, or the one kept if higher, unless the
 * new answer is below the last (a reset).
 */
function keep(last: number | undefined, now: number, kept: number, fresh: number): number {
  return last === undefined || now < last ? fresh : Math.max(kept, fresh);
}
