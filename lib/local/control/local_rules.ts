/**
 * The local's rules in force: `--rules FILE` (with its rule-providers) and `--direct-country
 * CC` compiled into one engine, loaded at start (a bad file stops the start) and again on
 * SIGHUP (a bad file keeps the rules in force, and the log says why).
 */
import { logger } from "../../common/ops/logging.ts";
import { directCountryRules, loadRules, RuleEngine } from "../../rules/mod.ts";
import type { RuleSource } from "../tunnel/rule_route.ts";

/** Where the rules come from. */
export interface RulesOptions {
  /** A mihomo-style rules file (`rules:`, `rule-providers:`). */
  file?: string;
  /** Private ranges and this country's addresses direct, after the file's rules. */
  directCountry?: string;
}

const log = logger("local", "rules");

/**
 * The rules the local routes by; `engine` is swapped whole by {@linkcode reload}, so a
 * connection is decided by one version of the rules.
 *
 * @example
 * const rules = new LocalRules({ file: "rules.yaml", directCountry: "CN" });
 * await rules.load(); // RulesError: file, line, reason
 * onSignal("SIGHUP", () => rules.reload());
 */
export class LocalRules implements RuleSource {
  /** Where the rules in force come from. */
  options: RulesOptions;
  engine: RuleEngine | null = null;
  /** `http` providers with no kept copy yet: empty until fetched. */
  pending: string[] = [];

  constructor(options: RulesOptions) {
    this.options = options;
  }

  /**
   * Reads and compiles the rules and puts them in force.
   *
   * @throws {RulesError} naming the file, the line and the reason; the rules in force stay
   */
  async load(): Promise<RuleEngine> {
    const { file, directCountry } = this.options;
    const append = directCountry ? directCountryRules(directCountry) : [];
    let engine: RuleEngine;
    let pending: string[] = [];
    if (file) ({ engine, pending } = await loadRules(file, append));
    else engine = await RuleEngine.create({ rules: append, providers: new Map() }, new Map());
    this.engine = engine;
    this.pending = pending;
    return engine;
  }

  /**
   * Loads the rules again (SIGHUP), with `options` changed first (a subscription's new rules
   * file, or none). A file that is refused now keeps the rules in force; the log says why.
   *
   * @returns whether the new rules are in force
   */
  async reload(options: Partial<RulesOptions> = {}): Promise<boolean> {
    const before = this.options;
    this.options = { ...before, ...options };
    try {
      const engine = await this.load();
      log.info("rules reloaded: {count} rule(s) in force", { count: engine.rules.length });
      return true;
    } catch (error) {
      this.options = before;
      log.warn("rules not reloaded, the previous ones stay in force: {error}", {
        error: (error as Error).message,
      });
      return false;
    }
  }
}
