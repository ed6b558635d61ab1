/**
 * The destination guard of one user's tunnels: the server's ranges, then the server's block
 * list (`serve --block FILE`) and the user's own (`user set NAME --block FILE`).
 */
import type { BlockList } from "../../rules/block_list.ts";
import type { Account } from "../users/accounts.ts";
import type { DestinationPolicy, LabelledBlockList } from "./destination.ts";

/**
 * `policy` with the block lists of `account`'s tunnels. The user's list is read at each check,
 * so a change (applied at the next reload, within a second) reaches open UDP associations too;
 * the lists come as the same array while they stay the same.
 *
 * @example const guard = accountPolicy(config.policy, config.block, account);
 */
export function accountPolicy(
  policy: DestinationPolicy,
  server: BlockList | undefined,
  account: Account,
): DestinationPolicy {
  const serverLists: LabelledBlockList[] = server ? [{ reason: "server_list", list: server }] : [];
  let own = account.blockList;
  let lists = withOwn(serverLists, own);
  return {
    ...policy,
    blocks: () => {
      if (account.blockList !== own) {
        own = account.blockList;
        lists = withOwn(serverLists, own);
      }
      return lists;
    },
  };
}

function withOwn(server: LabelledBlockList[], own: BlockList | null): LabelledBlockList[] {
  return own ? [...server, { reason: "user_list", list: own }] : server;
}
