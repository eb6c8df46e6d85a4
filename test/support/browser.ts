/**
 * Chromium for end-to-end tests, driven by playwright-core, never a download: the one at
 * CHROMIUM_PATH, else Debian's /usr/bin/chromium, else the headless Chromium that ships
 * inside the npm package @sparticuz/chromium (a devDependency: `npm install` brings it, so a
 * machine with no browser needs no other step). MAILROOM_TEST_CHROMIUM=npm skips the first
 * two (to check the npm one on a machine that has both); =system refuses the npm one.
 * The npm binary needs libnss3, libnspr4 and libexpat from the system: this project's
 * machines have them without Chromium (a bare Debian: `apt-get install libnss3`).
 */

import { existsSync } from 'node:fs';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { expect } from 'vitest';

const SYSTEM_CHROMIUM = '/usr/bin/chromium';

export interface TestBrowser {
  browser: Browser;
  close(): Promise<void>;
}

/**
 * A desktop Chrome's user agent. Headless Chromium names itself ("HeadlessChrome"), as link
 * scanners do, and Mailroom counts those as machines; the tests act as people.
 */
export const PERSON_USER_AGENT = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36';

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

/** Returns the Chromium to launch and the flags it takes (see the header for the order of choice). */
export async function chromiumToLaunch(): Promise<{ executablePath: string; args: string[]; origin: 'CHROMIUM_PATH' | 'system' | 'npm' }> {
  const choice = process.env.MAILROOM_TEST_CHROMIUM;
  if (choice !== undefined && !['npm', 'system'].includes(choice)) {
    throw new Error(`MAILROOM_TEST_CHROMIUM must be "npm" or "system", not "${choice}".`);
  }
  if (choice !== 'npm') {
    if (process.env.CHROMIUM_PATH) return { executablePath: process.env.CHROMIUM_PATH, args: ARGS, origin: 'CHROMIUM_PATH' };
    if (existsSync(SYSTEM_CHROMIUM)) return { executablePath: SYSTEM_CHROMIUM, args: ARGS, origin: 'system' };
    if (choice === 'system') throw new Error(`MAILROOM_TEST_CHROMIUM=system, but there is no ${SYSTEM_CHROMIUM} and no CHROMIUM_PATH.`);
  }
  // Unpacked from the package into the temporary folder on first use (a few seconds), then
  // reused. It takes the same flags as Debian's: the package's own `args` are made for
  // serverless containers and would also turn off web security (`--disable-web-security`,
  // `--allow-running-insecure-content`), the rules the tests check Mailroom within.
  const { default: packaged } = await import('@sparticuz/chromium');
  return { executablePath: await packaged.executablePath(), args: ARGS, origin: 'npm' };
}

/** Launches headless Chromium (playwright gives every launch a fresh profile) with no background networking. */
export async function launchBrowser(): Promise<TestBrowser> {
  const { executablePath, args } = await chromiumToLaunch();
  const browser = await chromium.launch({ executablePath, headless: true, args });
  return {
    browser,
    close: () => browser.close(),
  };
}

/**
 * Launches Chromium on a profile kept in `userDataDir`: a real profile, not an incognito-like
 * context (what installing an app needs).
 */
export async function launchWithProfile(userDataDir: string): Promise<BrowserContext> {
  const { executablePath, args } = await chromiumToLaunch();
  return chromium.launchPersistentContext(userDataDir, { executablePath, headless: true, args });
}

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

/**
 * Returns the text of a code editor (the HTML body's, the subject's) as its operator sees it: CodeMirror's
 * lines, one per line of text (the whole of a message body is within its rendered viewport once in view),
 * or the plain text area that stands in while the editor loads.
 */
export async function codeText(page: Page, name: string): Promise<string> {
  const field = page.getByRole('textbox', { name, exact: true });
  return field.evaluate((element) => {
    if (element instanceof HTMLTextAreaElement || element instanceof HTMLInputElement) return element.value;
    // CodeMirror draws the lines near what is in view: bring the editor to the top of the window first (a poll reads again).
    const editor = element.closest('.cm-editor')!;
    editor.scrollIntoView({ block: 'start' });
    const lines = editor.querySelectorAll('.cm-line');
    return [...lines].map((line) => line.textContent ?? '').join('\n');
  });
}

/**
 * Replaces the text of a code editor (or of the text area standing in for it) as typing would:
 * select all with the keyboard, then insert. (Playwright's `fill` selects through the DOM, which
 * CodeMirror reads a moment later; on a slow machine the text then lands after the old one.)
 */
export async function fillCode(page: Page, name: string, text: string): Promise<void> {
  const field = page.getByRole('textbox', { name, exact: true });
  await field.focus();
  await page.keyboard.press('ControlOrMeta+a');
  await page.keyboard.insertText(text);
  await expect.poll(() => codeText(page, name)).toBe(text);
}
