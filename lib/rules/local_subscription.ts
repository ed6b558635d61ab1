/**
 * The subscription document `swiftproxy-local` reads (`…/sub/TOKEN/local`, or a User-Agent
 * `swiftproxy-local/…`): JSON with the user's `trojan://` link and the admin's client rules
 * as one self-contained rules file. Usage and the update interval come in the answer's headers
 * (`subscription-userinfo`, `profile-update-interval`), as for every app.
 *
 * ```json
 * { "swiftproxy": 1, "link": "trojan://…", "rules": { "text": "rules: …", "files": { "0-ads.yaml": "payload: …" } } }
 * ```
 */
import { ProtocolError } from "../protocol/errors.ts";

/** A rules file given whole: its text and the files its `file` providers name. */
export interface PortableRules {
  /** The rules file (YAML): `rules:` and `rule-providers:`, providers' paths plain file names. */
  text: string;
  /** The provider files' texts by name ({@linkcode PORTABLE_FILE}). */
  files: Record<string, string>;
}

/** What the document carries. */
export interface LocalSubscription {
  link: string;
  /** The client rules, or null when the admin set none. */
  rules: PortableRules | null;
}

/** A file name a document's rules may use: no folder, one of the providers' extensions. */
export const PORTABLE_FILE = /^[A-Za-z0-9_-]{1,80}\.(yaml|txt|json)$/;

/** The document's version; a reader refuses another. */
const VERSION = 1;

/**
 * The document's text.
 *
 * @example formatLocalSubscription({ link: "trojan://…", rules: null })
 */
export function formatLocalSubscription(doc: LocalSubscription): string {
  return JSON.stringify({ swiftproxy: VERSION, link: doc.link, rules: doc.rules }, null, 2) + "\n";
}

/**
 * Reads the document. The link itself is read by `parseShareLink`; this checks the shape, and
 * that every file name is a plain name (a subscription never names a place on the disk).
 *
 * @throws {ProtocolError} saying what was expected
 * @example const { link, rules } = parseLocalSubscription(body);
 */
export function parseLocalSubscription(text: string): LocalSubscription {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new ProtocolError("expected the subscription as JSON (is this a SwiftProxy remote?)");
  }
  const record = (typeof doc === "object" && doc !== null ? doc : {}) as Record<string, unknown>;
  if (record.swiftproxy !== VERSION) {
    throw new ProtocolError(
      `expected a SwiftProxy subscription of version ${VERSION}, got ${
        JSON.stringify(record.swiftproxy ?? null)
      }`,
    );
  }
  if (typeof record.link !== "string") {
    throw new ProtocolError(`expected "link" (a trojan:// link)`);
  }
  const rules = record.rules ?? null;
  if (rules === null) return { link: record.link, rules: null };
  const r = rules as Record<string, unknown>;
  const files = (typeof r.files === "object" && r.files !== null ? r.files : null) as
    | Record<string, unknown>
    | null;
  if (typeof rules !== "object" || typeof r.text !== "string" || files === null) {
    throw new ProtocolError(`expected "rules" as { "text": …, "files": { … } }`);
  }
  for (const [name, body] of Object.entries(files)) {
    if (!PORTABLE_FILE.test(name) || typeof body !== "string") {
      throw new ProtocolError(`expected plain file names and texts in "rules", got "${name}"`);
    }
  }
  return { link: record.link, rules: { text: r.text, files: files as Record<string, string> } };
}
