/**
 * The account as the dashboard shows it: the remote's last answer plus what this local has
 * seen since (bytes moved, connections opened or closed), so the card is current between
 * two account checks instead of lagging by one.
 */
import type { AccountStatus } from "../tunnel/account_check.ts";
import type { ConnectionTable } from "../inbound/connections.ts";

/** The last answer, and the connections the local's table held when it came. */
interface Base {
  account: AccountStatus;
  open: number;
}

/** Usage minus the local's own bytes, per direction: the card shows this plus the table's. */
type Offset = AccountStatus["usage"];

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
  #offset: Offset = { up: -Infinity, down: -Infinity };

  constructor(table: ConnectionTable) {
    this.#table = table;
  }

  /** Notes the table's figures when a new answer arrives; call on every change. */
  answered(account: AccountStatus | null): void {
    if (account === null || account === this.#base?.account) return;
    const last = this.#base?.account.usage;
    const { usage } = account;
    const fresh = { up: usage.up - this.#table.totalUp, down: usage.down - this.#table.totalDown };
    // A lower answer than the last is a reset: start again from it.
    const reset = last !== undefined && (usage.up < last.up || usage.down < last.down);
    this.#offset = reset ? fresh : {
      up: Math.max(this.#offset.up, fresh.up),
      down: Math.max(this.#offset.down, fresh.down),
    };
    this.#base = { account, open: this.#tunnels() };
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
