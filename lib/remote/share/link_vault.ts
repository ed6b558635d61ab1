/**
 * What reprinting a user's link and subscription URL takes (the password and the subscription
 * token), kept sealed in the data directory: `links/NAME.sealed`, AES-GCM with a key of this
 * server's own (`link.key`, mode 0600) that never goes into the users database. A copy of the
 * database alone still gives no password or token; the data directory gives both (SECURITY.md).
 */
import { join } from "node:path";
import { sealText, subscriptionKey, unsealText } from "./subscription_token.ts";
import { keyForCredential } from "../store/user_store.ts";
import type { User, UserStore } from "../store/user_store.ts";

/** What a link and a subscription URL are made of. */
export interface KeptLink {
  password: string;
  /** The subscription token, when one was issued with this password. */
  token?: string;
}

function base64(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes));
}

/**
 * The sealed links of one data directory.
 *
 * @example await new LinkVault(dir).keep("ann", { password, token });
 */
export class LinkVault {
  readonly #dir: string;
  #key?: Promise<CryptoKey>;

  constructor(dataDir: string) {
    this.#dir = dataDir;
  }

  #path(name: string): string {
    // Names are letters, digits and "_.@-" (checkUserName); the suffix keeps "." and ".." files.
    return join(this.#dir, "links", `${name}.sealed`);
  }

  /** The server's key, made (32 random bytes, mode 0600) the first time one is needed. */
  #serverKey(create: boolean): Promise<CryptoKey> | undefined {
    if (this.#key) return this.#key;
    const path = join(this.#dir, "link.key");
    let raw: Uint8Array<ArrayBuffer>;
    try {
      raw = Uint8Array.from(atob(Deno.readTextFileSync(path).trim()), (c) => c.charCodeAt(0));
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound) || !create) return undefined;
      raw = crypto.getRandomValues(new Uint8Array(32));
      // createNew: two commands making the key at once keep one (the loser reads the winner's).
      try {
        Deno.writeTextFileSync(path, base64(raw) + "\n", { mode: 0o600, createNew: true });
      } catch (raced) {
        if (!(raced instanceof Deno.errors.AlreadyExists)) throw raced;
        return this.#serverKey(false);
      }
    }
    this.#key = crypto.subtle.importKey("raw", raw, "AES-GCM", false, ["encrypt", "decrypt"]);
    return this.#key;
  }

  /**
   * Keeps `link` for user `name`, replacing what was kept.
   *
   * @throws {Deno.errors.PermissionDenied} and the like when the data directory is not writable
   */
  async keep(name: string, link: KeptLink): Promise<void> {
    const sealed = await sealText((await this.#serverKey(true))!, JSON.stringify(link));
    Deno.mkdirSync(join(this.#dir, "links"), { recursive: true, mode: 0o700 });
    const path = this.#path(name);
    Deno.writeTextFileSync(`${path}.tmp`, sealed + "\n", { mode: 0o600 });
    Deno.renameSync(`${path}.tmp`, path);
  }

  /** What was kept for `name`, or undefined (none, or not readable with this server's key). */
  async open(name: string): Promise<KeptLink | undefined> {
    let sealed: string;
    try {
      sealed = Deno.readTextFileSync(this.#path(name)).trim();
    } catch {
      return undefined;
    }
    const key = this.#serverKey(false);
    const text = key && await unsealText(await key, sealed);
    if (!text) return undefined;
    try {
      const kept = JSON.parse(text);
      if (typeof kept?.password !== "string") return undefined;
      return {
        password: kept.password,
        ...(typeof kept.token === "string" ? { token: kept.token } : {}),
      };
    } catch {
      return undefined;
    }
  }

  /** Forgets what was kept for `name` (a removed user). */
  forget(name: string): void {
    try {
      Deno.removeSync(this.#path(name));
    } catch {
      // nothing kept
    }
  }
}

/**
 * The link kept for `user` when its password is still theirs, with its token when that is
 * still their subscription; else undefined (changed elsewhere, or nothing kept).
 *
 * @example const kept = await currentLink(new LinkVault(dir), store, user);
 */
export async function currentLink(
  vault: LinkVault,
  store: UserStore,
  user: User,
): Promise<KeptLink | undefined> {
  const kept = await vault.open(user.name);
  if (!kept || keyForCredential(user.name, kept.password) !== user.key) return undefined;
  if (!kept.token) return { password: kept.password };
  const found = await store.findBySubscriptionKey(subscriptionKey(kept.token));
  return found?.user.name === user.name ? kept : { password: kept.password };
}
