/**
 * The client rules in force and where they come from. `serve --client-rules FILE` wins: the
 * panel shows that file and cannot change it (the admin edits the file and restarts, as for
 * every other flag). Without the flag the panel sets them, kept in the data directory as
 * `client-rules.yaml` and in every subscription at once.
 */
import { join } from "node:path";
import { type ClientRules, parseClientRules } from "../../rules/client_rules.ts";
import { RulesError } from "../../rules/rule.ts";
import { clientRulesGaps } from "./subscription_rules.ts";

/** What the panel shows of the client rules. */
export interface ClientRulesView {
  /** `flag`: `--client-rules FILE` (read-only here); `panel`: set in the panel; `none`. */
  origin: "flag" | "panel" | "none";
  /** The file given with the flag. */
  path?: string;
  text: string;
  rules: number;
  providers: number;
  /** What each app's profile leaves out, in words. */
  gaps: string[];
}

/** The panel tried to change rules the command line set. */
export class ClientRulesLocked extends Error {
  constructor(readonly path: string) {
    super(
      `the client rules come from serve --client-rules ${path}: edit that file and restart ` +
        "serve (or start it without the flag to set them here)",
    );
    this.name = "ClientRulesLocked";
  }
}

/** The name of the panel's rules in the data directory. */
export const CLIENT_RULES_FILE = "client-rules.yaml";

/** The panel's rules have no folder of their own: providers are inline or by URL. */
function noFiles(path: string): string {
  throw new Error(
    `the panel takes inline and http rule-providers; a file (${path}) needs serve --client-rules FILE`,
  );
}

/**
 * The client rules of a running server.
 *
 * @example
 * const setting = ClientRulesSetting.open(dataDir, flag); // RulesError for a bad kept file
 * setting.rules; // what subscriptions carry
 */
export class ClientRulesSetting {
  #rules: ClientRules | undefined;
  readonly #file: string;

  private constructor(file: string, rules: ClientRules | undefined, readonly flagPath?: string) {
    this.#file = file;
    this.#rules = rules;
  }

  /**
   * The flag's rules when given, else those the panel kept in `dataDir`.
   *
   * @throws {RulesError} for a kept file that is not valid (line and reason)
   */
  static open(dataDir: string, flag?: { path: string; rules: ClientRules }): ClientRulesSetting {
    const file = join(dataDir, CLIENT_RULES_FILE);
    if (flag) return new ClientRulesSetting(file, flag.rules, flag.path);
    let text: string;
    try {
      text = Deno.readTextFileSync(file);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return new ClientRulesSetting(file, undefined);
      throw new RulesError(0, `cannot read: ${(error as Error).message}`, file);
    }
    return new ClientRulesSetting(file, parse(text, file));
  }

  /** The rules subscriptions carry, if any. */
  get rules(): ClientRules | undefined {
    return this.#rules;
  }

  /** What the panel shows. */
  view(): ClientRulesView {
    const rules = this.#rules;
    return {
      origin: this.flagPath ? "flag" : rules ? "panel" : "none",
      ...(this.flagPath ? { path: this.flagPath } : {}),
      text: rules?.source ?? "",
      rules: rules?.rules.length ?? 0,
      providers: rules?.providers.length ?? 0,
      gaps: rules ? clientRulesGaps(rules) : [],
    };
  }

  /**
   * Sets the rules from the panel (`""` or blank: none), kept in the data directory; every
   * subscription carries them from now on.
   *
   * @throws {ClientRulesLocked} when `--client-rules` set them
   * @throws {RulesError} with the line and the reason; nothing changes
   */
  async replace(text: string): Promise<ClientRulesView> {
    if (this.flagPath) throw new ClientRulesLocked(this.flagPath);
    if (text.trim() === "") {
      await Deno.remove(this.#file).catch((error) => {
        if (!(error instanceof Deno.errors.NotFound)) throw error;
      });
      this.#rules = undefined;
      return this.view();
    }
    const rules = parse(text, "client rules");
    const temporary = `${this.#file}.${Deno.pid}.tmp`;
    await Deno.writeTextFile(temporary, text, { mode: 0o600 });
    await Deno.rename(temporary, this.#file);
    this.#rules = rules;
    return this.view();
  }
}

function parse(text: string, source: string): ClientRules {
  try {
    return parseClientRules(text, source, noFiles);
  } catch (error) {
    // A file provider: its line, and the reason from noFiles.
    if (error instanceof RulesError) throw error;
    throw new RulesError(0, (error as Error).message, source);
  }
}
