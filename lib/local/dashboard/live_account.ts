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

/**
 * Adds the local's own traffic since the last account check to the remote's figures.
 *
 * @example
 * const live = new LiveAccount(control.connections);
 * control.watch(() => live.answered(control.account));
 * live.view(control.account)?.usage.down
 */
export class LiveAccount {
  readonly #table: ConnectionTable;
  #base: Base | null = null;

  constructor(table: ConnectionTable) {
    this.#table = table;
  }

  /** Notes the table's figures when a new answer arrives; call on every change. */
  answered(account: AccountStatus | null): void {
    if (account === null || account === this.#base?.account) return;
    this.#base = {
      account,
      up: this.#table.totalUp,
      down: this.#table.totalDown,
      open: this.#tunnels(),
    };
  }

  /** `account` with usage and open connections brought up to now, or null for none. */
  view(account: AccountStatus | null): AccountStatus | null {
    if (account === null) return null;
    this.answered(account);
    const base = this.#base!;
    return {
      ...account,
      usage: {
        up: account.usage.up + Math.max(0, this.#table.totalUp - base.up),
        down: account.usage.down + Math.max(0, this.#table.totalDown - base.down),
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
