/** Chromium for end-to-end tests: Debian's browser driven by playwright-core, never a download. */

import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export interface TestBrowser {
  browser: Browser;
  close(): Promise<void>;
}

/**
 * A desktop Chrome's user agent. Headless Chromium names itself ("HeadlessChrome"), as link
 * scanners do, and Mailroom counts those as machines; the tests act as people.
 */
export const PERSON_USER_AGENT = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36';

/** Launches headless Chromium (playwright gives every launch a fresh profile) with no background networking. */
export async function launchBrowser(): Promise<TestBrowser> {
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ARGS });
  return {
    browser,
    close: () => browser.close(),
  };
}

/**
 * Launches Chromium on a profile kept in `userDataDir`: a real profile, not an incognito-like
 * context (what installing an app needs).
 */
export function launchWithProfile(userDataDir: string): Promise<BrowserContext> {
  return chromium.launchPersistentContext(userDataDir, { executablePath: CHROMIUM, headless: true, args: ARGS });
}

const ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  // For every request, sandboxed frames included (a context's override misses those).
  `--user-agent=${PERSON_USER_AGENT}`,
];

/**
 * Takes the page offline the way a marketer's laptop goes: once the service worker controls
 * the page (it may still be activating when `ready` resolves), the network is cut and the
 * page reloaded from the worker's cache.
 */
export async function goOffline(page: Page): Promise<void> {
  await page.evaluate(async () => {
    const worker = (await navigator.serviceWorker.ready).active!;
    if (worker.state !== 'activated')
      await new Promise((done) => worker.addEventListener('statechange', () => worker.state === 'activated' && done(null)));
  });
  await page.reload();
  for (let i = 0; i < 100 && !(await page.evaluate(() => !!navigator.serviceWorker.controller)); i++) await page.waitForTimeout(50);
  await page.context().setOffline(true);
  await page.reload();
}
