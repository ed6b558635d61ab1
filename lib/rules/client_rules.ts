/**
 * Client rules: a rules file the server's admin writes once for every user's app
 * (`serve --client-rules FILE`), read whole with its providers' files, so a subscription can
 * carry it without the admin's disk: `file` providers become their text, `http` ones stay URLs
 * the app fetches.
 */
import { stringify } from "yaml";
import { type Condition, type Rule, RulesError } from "./rule.ts";
import { parseRuleSet } from "./rule_set.ts";
import { parseRulesFile, type ProviderSpec } from "./rules_file.ts";
import { providerPath } from "./engine.ts";
import type { PortableRules } from "./local_subscription.ts";

/** A provider of the client rules, with what an app needs of it. */
export interface ClientProvider {
  spec: ProviderSpec;
  /** A `file` provider's text (in `spec.format`) or an `inline` one's payload; null for `http`. */
  text: string | null;
  /** The entries of `text`, parsed; empty for `http`. */
  conditions: Condition[];
}

/** The client rules as every subscription format is made from them. */
export interface ClientRules {
  rules: Rule[];
  /** The providers in the file's order. */
  providers: ClientProvider[];
  /** The file's text as given (the admin panel shows it). */
  source: string;
}

/** How a provider's file is named in a {@linkcode PortableRules}. */
const EXTENSION = { yaml: "yaml", text: "txt", json: "json" } as const;

/**
 * Parses client rules: the rules file's `text` and, through `read`, each `file` provider's
 * file (its `path` relative to `path`). Every provider's entries are checked now.
 *
 * @param path the rules file's path: messages name it, providers' paths are relative to it
 * @throws {RulesError} naming the file, the line and the reason
 * @example parseClientRules("rules:\n  - GEOIP,LAN,DIRECT\n", "client.yaml", Deno.readTextFileSync)
 */
export function parseClientRules(
  text: string,
  path: string,
  read: (path: string) => string,
): ClientRules {
  const file = parseRulesFile(text, path);
  const providers: ClientProvider[] = [];
  for (const spec of file.providers.values()) {
    let body: string | null = null;
    if (spec.type === "inline") body = spec.payload ?? "";
    if (spec.type === "file") {
      const where = providerPath(spec, path)!;
      try {
        body = read(where);
      } catch (e) {
        throw new RulesError(
          spec.line,
          `rule-provider "${spec.name}": cannot read ${where}: ${(e as Error).message}`,
          path,
        );
      }
    }
    const conditions = body === null
      ? []
      : parseRuleSet(body, spec.format, spec.behavior, `${path}: rule-provider "${spec.name}"`)
        .conditions;
    providers.push({ spec, text: body, conditions });
  }
  return { rules: file.rules, providers, source: text };
}

/**
 * Reads client rules from `path` and its providers' files.
 *
 * @throws {RulesError} naming the file, the line and the reason
 * @example const rules = loadClientRules("/etc/swiftproxy/client-rules.yaml");
 */
export function loadClientRules(path: string): ClientRules {
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch (e) {
    throw new RulesError(0, `cannot read: ${(e as Error).message}`, path);
  }
  return parseClientRules(text, path, (where) => Deno.readTextFileSync(where));
}

/**
 * The client rules as one self-contained rules file for `swiftproxy-local`: the rules as
 * written, `inline` providers as they are, `file` providers' texts as files of their own and
 * `http` providers by URL (the local keeps its copy under a plain name beside the file).
 *
 * @example const { text, files } = portableRules(rules); // files: { "ads.yaml": "payload: …" }
 */
export function portableRules(rules: ClientRules): PortableRules {
  const files: Record<string, string> = {};
  const providers: Record<string, Record<string, unknown>> = {};
  rules.providers.forEach(({ spec, text }, i) => {
    const entry: Record<string, unknown> = { type: spec.type, behavior: spec.behavior };
    if (spec.type === "inline") {
      entry.payload = (text ?? "").split("\n").filter((line) => line !== "");
    } else {
      // Provider names are the admin's: any text. The files get plain names of their own.
      const name = `${i}-${spec.name.replace(/[^A-Za-z0-9_-]/g, "_").slice(0, 48)}.${
        EXTENSION[spec.format]
      }`;
      entry.format = spec.format;
      entry.path = name;
      if (spec.type === "file") files[name] = text ?? "";
      else {
        entry.url = spec.url;
        if (spec.interval > 0) entry.interval = spec.interval;
      }
    }
    providers[spec.name] = entry;
  });
  const document: Record<string, unknown> = {};
  if (rules.providers.length > 0) document["rule-providers"] = providers;
  document.rules = rules.rules.map((rule) => rule.text);
  return { text: stringify(document), files };
}
