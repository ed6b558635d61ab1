/**
 * The local's subscription document: what a remote writes reads back the same; a document
 * that names a place on the disk, or is not SwiftProxy's, is refused in words before anything
 * is written.
 */
import { assertEquals, assertThrows } from "../_assert.ts";
import {
  formatLocalSubscription,
  parseLocalSubscription,
} from "../../lib/rules/local_subscription.ts";
import { parseClientRules, portableRules } from "../../lib/rules/client_rules.ts";
import { checkPortableRules } from "../../lib/local/control/subscription.ts";

Deno.test("the local's document: written and read back; file names other than plain ones refused", () => {
  const rules = parseClientRules(
    "rule-providers:\n  ads: { type: file, behavior: domain, path: ../lists/ads.txt }\n" +
      "rules:\n  - RULE-SET,ads,REJECT\n",
    "/etc/swiftproxy/client.yaml",
    (path) => path === "/etc/lists/ads.txt" ? "+.ads.example\n" : "",
  );
  const portable = portableRules(rules);
  // The admin's folder layout never reaches the user: a plain name of its own.
  assertEquals(portable.files, { "0-ads.txt": "+.ads.example\n" });
  assertEquals(portable.text.includes("../"), false);
  const doc = { link: "trojan://a%3Ab@127.0.0.1:8443", rules: portable };
  assertEquals(parseLocalSubscription(formatLocalSubscription(doc)), doc);

  for (const name of ["../rules.yaml", "/etc/passwd.txt", "a/b.yaml", "x.sh", ".yaml"]) {
    const bad = JSON.stringify({
      ...JSON.parse(formatLocalSubscription(doc)),
      rules: { text: "", files: { [name]: "" } },
    });
    assertThrows(() => parseLocalSubscription(bad), Error, "plain file names");
  }
  assertThrows(() => parseLocalSubscription("<html>"), Error, "is this a SwiftProxy remote?");
  assertThrows(() => parseLocalSubscription('{"swiftproxy": 2}'), Error, "version 1");
});

Deno.test("the local refuses a subscription's rules that name a path, or a file it does not bring", () => {
  const text = (path: string) =>
    `rule-providers:\n  ads: { type: file, behavior: domain, path: "${path}" }\nrules:\n  - MATCH,PROXY\n`;
  assertEquals(checkPortableRules({ text: text("0-ads.txt"), files: { "0-ads.txt": "" } }), 1);
  for (const path of ["../../.bashrc.txt", "/etc/cron.d/x.txt", "sub/x.txt"]) {
    assertThrows(
      () => checkPortableRules({ text: text(path), files: {} }),
      Error,
      "is not a plain file name",
    );
  }
  assertThrows(
    () => checkPortableRules({ text: text("1-missing.txt"), files: {} }),
    Error,
    'has no file "1-missing.txt"',
  );
});
