/**
 * Debian's headless Chromium for the dashboard's browser tests, driven by puppeteer-core over
 * the DevTools protocol (no browser download), with a fresh profile removed at close.
 */
import puppeteer from "puppeteer-core";
import type { Browser, Page } from "puppeteer-core";

/**
 * Starts Chromium headless with its own temporary profile; `extraArgs` go after the usual
 * flags (such as `--ignore-certificate-errors-spki-list=` for one test server's key).
 */
export async function launch(
  extraArgs: string[] = [],
): Promise<{ browser: Browser; close(): Promise<void> }> {
  const profile = await Deno.makeTempDir({ prefix: "swiftproxy-chromium-" });
  const browser = await puppeteer.launch({
    executablePath: "/usr/bin/chromium",
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      `--user-data-dir=${profile}`,
      ...extraArgs,
    ],
  });
  return {
    browser,
    async close() {
      await browser.close();
      await Deno.remove(profile, { recursive: true }).catch(() => {});
    },
  };
}

/** The text of the first element `selector` finds. */
export const text = (page: Page, selector: string): Promise<string> =>
  page.$eval(selector, (el) => (el as HTMLElement).textContent ?? "");

/**
 * Waits until the page has stopped scrolling (the same scroll offset over five animation
 * frames). A click is aimed at where its element is now: during a smooth scroll (the admin
 * panel's details slide into view) it lands on whatever has moved there by then.
 */
export function scrollSettled(page: Page): Promise<unknown> {
  return page.evaluate(() =>
    new Promise<void>((settled) => {
      let last = NaN;
      let still = 0;
      const frame = () => {
        still = scrollY === last ? still + 1 : 0;
        last = scrollY;
        if (still >= 5) settled();
        else requestAnimationFrame(frame);
      };
      requestAnimationFrame(frame);
    })
  );
}

/** A browser context of the file's one Chromium: its own cookies and storage, closed alone. */
export interface BrowserContextHandle {
  /** A new page in this context. */
  newPage(): Promise<Page>;
  /** Closes the context and its pages (the browser stays for the next test). */
  close(): Promise<void>;
}

let once: ReturnType<typeof launch> | undefined;

/**
 * A fresh browser context (its own cookies and storage, like a new profile) of one Chromium
 * shared by every test of a file: starting Chromium costs a second or two of CPU, a context
 * almost nothing. The file's last test calls {@linkcode closeSharedChromium}.
 */
export async function sharedContext(): Promise<BrowserContextHandle> {
  const { browser } = await (once ??= launch());
  const context = await browser.createBrowserContext();
  return { newPage: () => context.newPage(), close: () => context.close() };
}

/** Closes the file's shared Chromium, if {@linkcode sharedContext} started it. */
export async function closeSharedChromium(): Promise<void> {
  const started = once;
  once = undefined;
  await (await started)?.close();
}
