/// <reference lib="dom" />
/**
 * What the Chinese pages' tests look for in a rendered page: English catalogue strings left
 * in its text, and anything wider than the window.
 */
import type { Page } from "puppeteer-core";
import en from "../../lib/common/web/i18n/en.json" with { type: "json" };

const EN: Record<string, string> = en;

/**
 * The English catalogue's strings as patterns over a page's text: each literal run between
 * `{params}`, as whole words (a run's letters not part of a longer word, a file name or an
 * address). The language switch names English in English, on purpose.
 */
const ENGLISH = Object.entries(EN)
  .filter(([key]) => key !== "language.name")
  .flatMap(([key, text]) =>
    text.split(/\{\w+\}/).map((run) => run.trim()).filter((run) => /[A-Za-z]{2}/.test(run))
      .map((run) => ({
        key,
        run,
        pattern: new RegExp(
          `(?<![\\w./])${run.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}(?![\\w./])`,
        ),
      }))
  );

/** The English strings `text` still holds, with their keys. */
export function englishIn(text: string): string[] {
  return ENGLISH.filter(({ pattern }) => pattern.test(text)).map(({ key, run }) =>
    `${key}: "${run}"`
  );
}

/** What a reader sees and what assistive tools read: text, placeholders, titles, labels. */
export const readable = (page: Page) =>
  page.evaluate(() =>
    [
      document.body.innerText,
      document.title,
      ...[...document.querySelectorAll("[placeholder], [title], [aria-label]")].flatMap((el) =>
        ["placeholder", "title", "aria-label"].map((name) => el.getAttribute(name) ?? "")
      ),
    ].join("\n")
  );

export const overflow = (page: Page) =>
  page.evaluate(() => ({ scrollWidth: document.documentElement.scrollWidth, innerWidth }));
