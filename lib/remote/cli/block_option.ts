/**
 * `--block FILE`: a destination block list, for the whole server (`serve`) or one user
 * (`user add|set`, where `none` clears it). The file is read and checked when the option is.
 */
import { InvalidArgumentError } from "commander";
import {
  type BlockList,
  parseBlockList,
  USER_BLOCK_LIST_MAX_BYTES,
} from "../../rules/block_list.ts";
import { RulesError } from "../../rules/rule.ts";

/** What the help says of the formats. */
export const BLOCK_FORMATS =
  "names (+.example.com), addresses and ranges, DOMAIN-KEYWORD/DST-PORT lines, a mihomo or sing-box rule-set";

function readList(path: string): { text: string; list: BlockList } {
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch (error) {
    throw new InvalidArgumentError(`cannot read ${path}: ${(error as Error).message}`);
  }
  try {
    return { text, list: parseBlockList(text, path) };
  } catch (error) {
    if (error instanceof RulesError) throw new InvalidArgumentError(error.message);
    throw error;
  }
}

/**
 * `serve --block FILE`: the file, parsed.
 *
 * @throws {InvalidArgumentError} naming the file, the line and the reason
 */
export function serverBlockArg(path: string): BlockList {
  return readList(path).list;
}

/**
 * `user add|set --block FILE|none`: the file's text, checked (`""` for `none`, which clears it).
 *
 * @throws {InvalidArgumentError} naming the file, the line and the reason, or the size
 */
export function userBlockArg(path: string): string {
  if (path === "none") return "";
  const { text } = readList(path);
  const bytes = new TextEncoder().encode(text).length;
  if (bytes > USER_BLOCK_LIST_MAX_BYTES) {
    throw new InvalidArgumentError(
      `${path} has ${bytes} bytes; a user's block list may hold at most ${USER_BLOCK_LIST_MAX_BYTES} ` +
        "(a longer one can be the server's: serve --block FILE)",
    );
  }
  return text;
}
