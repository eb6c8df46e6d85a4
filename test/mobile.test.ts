/**
 * Mailroom on a phone and on a laptop, end to end: the real server process with its built-in
 * SMTP sink, the built app in Chromium, real IndexedDB. The whole journey is walked at
 * 390 × 844 (a phone: mobile viewport, touch) and again at 1,400 × 900: signing in, the list
 * of deliveries, a delivery as a draft, prepared (its confirm, the preview at both widths,
 * what-if, the logs) and sent (its figures, the reports with a long link, the log), the
 * mailbox and a message, the unsubscribe page, the audience with a profile and the import
 * dialog open, a typology, the settings. On every page nothing reaches past the viewport's
 * edges (a table wider than its card scrolls in its own box, which can be focused and is
 * named), the main controls are on screen and can be clicked (on the phone at least 40 px
 * tall), and on the phone the navigation sits behind a Menu button. Full-page screenshots of
 * every step go to /tmp/shots-mobile/.
 */

import { mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { BrowserContext, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser, type TestBrowser, fillCode } from './support/browser';
import { removeDataDir, startServer, type ServerProcess } from './support/server';

const SHOTS = '/tmp/shots-mobile';
const NAVIGATION = ['Deliveries', 'Audience', 'Typologies', 'Settings', 'Audit', 'Operators', 'Mailbox', 'API'];
/** The smallest height of a control a thumb taps. */
const TAP_TARGET = 40;
/** A link as campaigns write them: long, with few places to break it. */
const LINK =
  'https://shop.example.com/collections/autumn-2026/outdoor-jackets-and-raincoats?utm_source=mailroom&utm_medium=email&utm_campaign=autumn-in-gent';
const HTML = `<html>
  <body style="font-family: sans-serif">
    <h1>Hello {{ first_name | default: "there" }},</h1>
    <p>Our autumn jackets have arrived{% if city %} in {{ city }}{% endif %}.</p>
    <p><a href="${LINK}">See the autumn jackets</a></p>
    <p style="font-size: 12px; color: #666"><a href="{{ unsubscribe_url }}">Unsubscribe</a></p>
  </body>
</html>`;
const CSV = [
  'E-mailadres;Voornaam;Achternaam;Woonplaats;Nieuwsbrief;Bedrag;Geboortedatum',
  'sanne.dejong@klant.example;Sanne;de Jong;Zwolle;ja;12,50;31-12-1990',
  'piet.jongbloed@klant.example;Piet;Jongbloed;Zwolle;nee;1.234,56;05-04-1985',
].join('\r\n');

const WIDTHS = [
  { label: '390', phone: true, options: { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true } },
  { label: '1400', phone: false, options: { viewport: { width: 1400, height: 900 } } },
];

let server: ServerProcess;
let chromium: TestBrowser;
let db: Database.Database;
/** An endpoint for webhooks: the bodies it received. */
let hooks: Server;
const hooked: string[] = [];

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  hooks = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString()));
    request.on('end', () => {
      hooked.push(body);
      response.end('ok');
    });
  });
  await new Promise<void>((resolve) => hooks.listen(0, '127.0.0.1', resolve));
  server = await startServer();
  db = new Database(join(server.dataDir, 'mailroom.db'), { readonly: true });
  chromium = await launchBrowser();
});

afterAll(async () => {
  await chromium?.close();
  db?.close();
  await server?.stop();
  hooks?.close();
  if (server) removeDataDir(server.dataDir);
});

/** Returns the elements that reach past the left or right edge of a page `width` wide, outside any box that scrolls or clips them. */
const cutOff = (page: Page, width: number) =>
  page.evaluate((width) => {
    const inBox = (element: Element) => {
      for (let up = element.parentElement; up && up !== document.body; up = up.parentElement)
        if (getComputedStyle(up).overflowX !== 'visible') return true;
      return false;
    };
    const name = (element: Element) =>
      `${element.tagName.toLowerCase()}${[...element.classList]
        .filter((c) => !c.startsWith('svelte-'))
        .map((c) => `.${c}`)
        .join('')} "${(element.textContent ?? '').trim().slice(0, 40)}"`;
    return [...document.body.querySelectorAll('*')].flatMap((element) => {
      const box = element.getBoundingClientRect();
      if (box.width === 0 || box.height === 0 || (box.left >= -0.5 && box.right <= width + 0.5)) return [];
      return inBox(element) ? [] : [name(element)];
    });
  }, width);

describe.each(WIDTHS)('the journey at $label px', ({ label, phone, options }) => {
  let context: BrowserContext;
  let page: Page;
  let deliveryUrl = '';
  let deliveryId = '';
  const width = options.viewport.width;

  beforeAll(async () => {
    context = await chromium.browser.newContext({ ...options, locale: 'en-GB', timezoneId: 'Europe/Amsterdam' });
    page = await context.newPage();
  });

  afterAll(async () => {
    await context?.close();
  });

  const button = (name: string) => page.getByRole('button', { name, exact: true });
  const nav = () => page.getByRole('navigation', { name: 'Main' });
  const status = () => page.getByTestId('delivery-status').textContent();
  const number = async (name: string) =>
    Number((await page.getByRole('group', { name, exact: true }).locator('output').textContent())!.replace(/,/g, ''));

  /** Screenshots the whole page, then checks that it is no wider than the viewport and that nothing reaches past its edges. */
  async function fits(shot: string) {
    await page.screenshot({ path: `${SHOTS}/${shot}-${label}.png`, fullPage: true });
    const sizes = await page.evaluate(() => ({ page: document.documentElement.scrollWidth, viewport: window.innerWidth }));
    expect.soft(sizes.viewport, `${shot}: the viewport is zoomed out`).toBe(width);
    expect.soft(sizes.page, `${shot}: the page is wider than the viewport`).toBeLessThanOrEqual(width);
    expect.soft(await cutOff(page, width), `${shot}: elements reach past the viewport's edges`).toEqual([]);
  }

  /** Checks that a control is within the viewport's width, visible, large enough to tap on a phone, and (when enabled) clickable. */
  async function usable(control: Locator, { enabled = true, firstScreen = false } = {}) {
    if (firstScreen) await page.evaluate(() => window.scrollTo(0, 0));
    else await control.scrollIntoViewIfNeeded();
    const box = (await control.boundingBox())!;
    const name = `${await control.textContent()}`.trim();
    expect.soft(box.x, `${name}: off the left edge`).toBeGreaterThanOrEqual(0);
    expect.soft(box.x + box.width, `${name}: off the right edge`).toBeLessThanOrEqual(width);
    if (firstScreen) expect.soft(box.y + box.height, `${name}: below the first screen`).toBeLessThanOrEqual(options.viewport.height);
    if (phone) expect.soft(box.height, `${name}: too small to tap`).toBeGreaterThanOrEqual(TAP_TARGET);
    if (enabled) await control.click({ trial: true });
  }

  /** Checks that a dialog lies within the viewport and does not scroll sideways, then that the page fits. */
  async function dialogFits(dialog: Locator, shot: string) {
    const box = (await dialog.boundingBox())!;
    expect.soft(box.x).toBeGreaterThanOrEqual(0);
    expect.soft(box.x + box.width).toBeLessThanOrEqual(width);
    expect.soft(box.y).toBeGreaterThanOrEqual(0);
    expect.soft(box.y + box.height).toBeLessThanOrEqual(options.viewport.height);
    expect.soft(await dialog.evaluate((d) => d.scrollWidth - d.clientWidth), `${shot}: the dialog scrolls sideways`).toBeLessThanOrEqual(0);
    await fits(shot);
  }

  /**
   * Checks that a column of a table is on screen, or, when the table is wider than its box,
   * that the box is focusable and named and that scrolling it brings the column on screen.
   */
  async function reachable(table: Locator, column: string) {
    const box = table.locator('xpath=..');
    await table.scrollIntoViewIfNeeded();
    const scrolls = await box.evaluate((b) => b.scrollWidth > b.clientWidth);
    if (scrolls) {
      expect(await box.getAttribute('tabindex')).toBe('0');
      expect(await box.getAttribute('aria-label')).toBeTruthy();
      await box.evaluate((b) => (b.scrollLeft = b.scrollWidth));
    }
    const header = (await table.getByRole('columnheader', { name: column, exact: true }).boundingBox())!;
    expect.soft(header.x, `${column}: off the left edge`).toBeGreaterThanOrEqual(0);
    expect.soft(header.x + header.width, `${column}: off the right edge`).toBeLessThanOrEqual(width);
    if (scrolls) await box.evaluate((b) => (b.scrollLeft = 0));
    return scrolls;
  }

  /** Goes to a page by the main navigation: on a phone through the Menu button, which closes again on arrival. */
  async function go(name: string) {
    const menu = button('Menu');
    if (phone) {
      expect(await menu.getAttribute('aria-expanded')).toBe('false');
      expect(await nav().getByRole('link', { name, exact: true }).isVisible()).toBe(false);
      await menu.click();
      expect(await menu.getAttribute('aria-expanded')).toBe('true');
    } else expect(await menu.isVisible()).toBe(false);
    await nav().getByRole('link', { name, exact: true }).click();
    await page.getByRole('heading', { level: 1, name }).waitFor();
    if (phone && name !== 'Mailbox') expect(await menu.getAttribute('aria-expanded')).toBe('false');
  }

  it('signs in', async () => {
    await page.goto(server.url);
    await page.waitForURL(/\/login/);
    await page.getByLabel('Password').fill(server.password);
    await usable(button('Sign in'));
    await fits('login');
    await button('Sign in').click();
    await page.getByText('10,000 profiles').waitFor({ timeout: 30_000 });
  });

  it('the list of deliveries: the navigation, the operator, Sign out and the offline badge are reachable', async () => {
    await page.getByRole('heading', { name: 'Deliveries' }).waitFor();
    const menu = button('Menu');
    if (phone) {
      await usable(menu, { firstScreen: true });
      expect(await menu.getAttribute('aria-expanded')).toBe('false');
      expect(await page.locator(`#${await menu.getAttribute('aria-controls')}`).count()).toBe(1);
      expect(await nav().isVisible()).toBe(false);
      expect(await button('Sign out').isVisible()).toBe(false);
      await menu.click();
      expect(await menu.getAttribute('aria-expanded')).toBe('true');
    } else expect(await menu.isVisible()).toBe(false);
    for (const name of NAVIGATION) await usable(nav().getByRole('link', { name, exact: true }), { firstScreen: true });
    await page.getByText('admin', { exact: true }).waitFor();
    await usable(button('Sign out'), { firstScreen: true });
    await context.setOffline(true);
    try {
      const offline = page.getByText('Offline — working from the local copy');
      await offline.waitFor();
      await fits('deliveries-empty-offline');
      if (phone) {
        // The badge stays in the top bar with the menu closed.
        await menu.click();
        expect(await menu.getAttribute('aria-expanded')).toBe('false');
        expect(await offline.isVisible()).toBe(true);
      }
    } finally {
      await context.setOffline(false);
    }
    await expect.poll(() => page.getByText('Offline — working from the local copy').count()).toBe(0);
    await usable(button('New delivery'), { firstScreen: true });
    await fits('deliveries-empty');
  });

  it('a draft: the form fits, and Prepare and Send are on the first screen', async () => {
    await button('New delivery').click();
    await page.waitForURL(/\/deliveries\//);
    deliveryUrl = page.url();
    deliveryId = deliveryUrl.split('/').pop()!;
    await page.getByLabel('Name', { exact: true }).fill(`Autumn jackets for the loyal customers in Gent (${label} px)`);
    await fillCode(page, 'Subject', `Autumn jackets for you, {{ first_name | default: "there" }} (${label})`);
    await fillCode(page, 'HTML body', HTML);
    await page.getByRole('group', { name: 'Include', exact: true }).getByRole('button', { name: 'Add condition' }).click();
    await page.getByLabel('Include, condition 1: field').selectOption({ label: 'City' });
    await page.getByLabel('Include, condition 1: value').fill('Gent');
    await expect.poll(() => page.getByTestId('audience-summary').textContent()).toBe('City equals "Gent"');
    await expect
      .poll(() => page.getByRole('status', { name: 'Live count' }).textContent())
      .toMatch(/^[1-9][\d,]* profiles in the local audience match$/);
    await usable(button('Prepare'), { firstScreen: true });
    await usable(button('Send'), { firstScreen: true, enabled: false });
    await usable(page.getByRole('group', { name: 'Include', exact: true }).getByRole('button', { name: 'Add condition' }));
    await fits('delivery-draft');
  });

  it('prepared: the confirm, the figures, the preview at both widths, what-if and the logs fit', async () => {
    await button('Prepare').click();
    const confirm = page.getByRole('dialog', { name: 'Prepare this delivery?' });
    await confirm.waitFor();
    await usable(confirm.getByRole('button', { name: 'Yes, prepare' }));
    await dialogFits(confirm, 'delivery-confirm-prepare');
    await confirm.getByRole('button', { name: 'Yes, prepare' }).click();
    await expect.poll(status, { timeout: 30_000 }).toBe('Prepared');
    expect(await number('To deliver')).toBeGreaterThan(0);

    // The preview's frame stays inside its card, and its width toggle still works.
    const preview = page.getByRole('region', { name: 'Message preview' });
    const frame = page.locator('iframe[title="Message preview"]');
    await page.frameLocator('iframe[title="Message preview"]').locator('h1').waitFor();
    await preview.getByText('Text part (derived from the HTML)').click();
    /** Checks that the frame is inside the preview's card; returns the width the message is laid out in. */
    const inCard = async () => {
      const [card, shown] = [(await preview.boundingBox())!, (await frame.boundingBox())!];
      expect.soft(shown.x).toBeGreaterThanOrEqual(card.x);
      expect.soft(shown.x + shown.width).toBeLessThanOrEqual(card.x + card.width);
      return frame.evaluate((f) => f.clientWidth);
    };
    const desktop = await inCard();
    await preview.getByRole('radio', { name: 'Mobile' }).check();
    const mobile = await inCard();
    if (phone) expect(mobile).toBeLessThanOrEqual(desktop);
    else expect([mobile, desktop > mobile]).toEqual([375, true]);
    await preview.getByRole('radio', { name: 'Desktop' }).check();
    expect(await inCard()).toBe(desktop);
    // (A full-page screenshot leaves the sandboxed frame blank: the frame gets its own.)
    await frame.screenshot({ path: `${SHOTS}/delivery-preview-frame-${label}.png` });
    await usable(preview.getByRole('button', { name: 'Next recipient' }));
    await usable(preview.getByRole('button', { name: 'Send proof' }));
    await reachable(page.getByRole('table', { name: 'What-if figures' }), 'Difference');

    await usable(button('Send'), { firstScreen: true });
    if (!phone) {
      const tops = await page
        .getByRole('toolbar', { name: 'Delivery actions' })
        .getByRole('button')
        .evaluateAll((buttons) => new Set(buttons.map((b) => b.getBoundingClientRect().top)).size);
      expect(tops, 'the toolbar is on one row').toBe(1);
    }
    await fits('delivery-prepared');

    await button('Logs').click();
    const logs = page.getByRole('dialog', { name: 'Preparation logs' });
    await usable(logs.getByRole('button', { name: 'Close' }));
    await dialogFits(logs, 'delivery-logs');
    await logs.getByRole('button', { name: 'Close' }).click();
  });

  it('sent: its figures, the reports and the log fit; the log scrolls in its own box', async () => {
    const toDeliver = await number('To deliver');
    await button('Send').click();
    const confirm = page.getByRole('dialog', { name: 'Send this delivery?' });
    await confirm.waitFor();
    await dialogFits(confirm, 'delivery-confirm-send');
    await confirm.getByRole('button', { name: 'Yes, send' }).click();
    await expect.poll(status, { timeout: 60_000 }).toBe('Sent');
    await expect.poll(() => number('Delivered'), { timeout: 30_000 }).toBe(toDeliver);
    for (const name of ['Delivered', 'Opens', 'Clicks', 'Failed', 'Remaining'])
      await usable(page.getByRole('group', { name, exact: true }), { enabled: false });
    const log = page.getByRole('region', { name: 'Reports' }).getByRole('table', { name: 'Delivery log' });
    await expect.poll(() => log.getByRole('row').count(), { timeout: 10_000 }).toBeGreaterThan(2);
    await usable(page.getByLabel('Show'));
    await usable(page.getByLabel('Find a recipient'));
    expect(await reachable(log, 'Clicked')).toBe(phone);
    await fits('delivery-sent');
  });

  it('the mailbox and a message fit; the message is opened and its link clicked; the unsubscribe page fits', async () => {
    await go('Mailbox');
    await page.getByLabel('Search by recipient, sender or subject').fill(`(${label})`);
    await usable(button('Search'));
    await button('Search').click();
    await page.getByText(/^[\d,]+ of [\d,]+ messages match/).waitFor();
    await fits('mailbox');
    await page
      .getByRole('link', { name: new RegExp(`^Autumn jackets for you, .* \\(${label}\\)$`) })
      .first()
      .click();
    await page.getByRole('link', { name: 'Back to the mailbox' }).waitFor();
    const message = page.frameLocator('iframe[title="Message"]');
    await message.locator('h1').waitFor();
    await fits('mailbox-message');

    // A click within a second of delivery is a link scanner's, not counted in the top links: read after that second.
    const lastSent = db
      .prepare("SELECT MAX(updated_at) FROM journal WHERE delivery_id = ? AND status = 'sent'")
      .pluck()
      .get(deliveryId) as string;
    await page.waitForTimeout(Math.max(0, Date.parse(lastSent) + 1_500 - Date.now()));
    const popup = page.waitForEvent('popup');
    await message.getByRole('link', { name: 'See the autumn jackets' }).click();
    await (await popup).close();
    const clicks = () =>
      db
        .prepare("SELECT COUNT(*) FROM tracking_events WHERE delivery_id = ? AND kind = 'click' AND machine = 0")
        .pluck()
        .get(deliveryId) as number;
    await expect.poll(clicks).toBe(1);

    await page.goto((await message.getByRole('link', { name: 'Unsubscribe' }).getAttribute('href'))!);
    // The preference centre, in the recipient's language (the demo audience holds Dutch and English profiles).
    await usable(page.getByRole('button', { name: /^(Unsubscribe from everything|Afmelden voor alles)$/ }));
    await fits('unsubscribe');
  });

  it('the list with the sent delivery: Delivered, Opens and Clicks are reachable; the delivery shows its top link wrapped by segment', async () => {
    await page.goto(server.url);
    const list = page.getByRole('table', { name: 'Deliveries' });
    // The team's deliveries: the journey at the other width made one too.
    const row = list
      .getByRole('row')
      .filter({ has: page.getByRole('link', { name: `Autumn jackets for the loyal customers in Gent (${label} px)` }) });
    // Status, Delivered, Opens, Clicks: the message was opened once and its link clicked once.
    await expect
      .poll(async () => (await row.getByRole('cell').allTextContents()).slice(2, 6), { timeout: 10_000 })
      .toEqual(['Sent', expect.stringMatching(/^[\d,]+ · [\d.]+%$/), expect.stringMatching(/^1 · /), expect.stringMatching(/^1 · /)]);
    for (const column of ['Delivered', 'Opens', 'Clicks']) await reachable(list, column);
    await fits('deliveries');

    await row.getByRole('link').click();
    const links = page.getByRole('region', { name: 'Reports' }).getByRole('table', { name: 'Top links' });
    await expect.poll(() => links.textContent(), { timeout: 10_000 }).toContain(LINK);
    // Not one letter a line: the link's cell keeps room for a good part of it on each line.
    const cell = links.getByRole('cell').filter({ hasText: 'shop.example.com' });
    expect((await cell.boundingBox())!.width).toBeGreaterThanOrEqual(150);
    await fits('delivery-top-links');
  });

  it('the audience, with a profile open and the import dialog open, fits', async () => {
    await go('Audience');
    await page.getByLabel('Find a profile by email or name').fill('jong');
    await page.getByRole('list', { name: 'Matching profiles' }).getByRole('button').first().click();
    const profile = page.getByRole('region', { name: 'Profile', exact: true });
    await profile.getByRole('heading', { level: 3, name: 'Recent sends' }).waitFor();
    await usable(profile.getByRole('button', { name: 'Delete profile' }));
    await usable(profile.getByRole('button', { name: 'Add to denylist' }));
    await usable(button('Import CSV'));
    await fits('audience-profile');

    await button('Import CSV').click();
    const dialog = page.getByRole('dialog', { name: 'Import profiles from CSV' });
    await dialog.getByLabel('CSV file').setInputFiles({ name: 'klanten.csv', mimeType: 'text/csv', buffer: Buffer.from(CSV) });
    await expect.poll(() => dialog.getByLabel('Map column E-mailadres').inputValue()).toBe('field:email');
    await usable(dialog.getByRole('button', { name: 'Import', exact: true }));
    await dialogFits(dialog, 'audience-import');
    await dialog.getByRole('button', { name: 'Close' }).click();
  });

  it('a typology open, with a condition rule added, fits', async () => {
    await go('Typologies');
    await button('Make a copy').click();
    await page.getByText('Copy made: edit it and save.').waitFor();
    await button('Add condition rule').click();
    await page.getByLabel('Rule My condition, condition 1: field').selectOption({ label: 'City' });
    // Each rule's settings are on screen, not off the right edge: on a phone the rules stack.
    await usable(button('Save typology'));
    await usable(page.getByLabel('Name of rule My condition'));
    await usable(page.getByLabel('Rule My condition, condition 1: field'));
    await usable(page.getByLabel('Rule My condition, condition 1: value'));
    await usable(page.getByRole('button', { name: 'Remove rule My condition', exact: true }));
    await usable(page.getByLabel('Messages of At most 5 messages in 7 days'));
    await fits('typologies');
  });

  it('the settings, with the relay and DKIM fields shown, fit', async () => {
    await go('Settings');
    await page.getByRole('heading', { name: 'Public address' }).waitFor();
    await page.getByRole('radio', { name: 'An SMTP relay' }).check();
    await page.getByLabel('Sign every message with DKIM').check();
    await usable(button('Test connection'));
    // A further relay and a throttle, their fields at the card's width.
    await button('Add a relay').click();
    await usable(page.getByLabel('URL of relay 2'));
    await usable(page.getByLabel('From domains of relay 2'));
    await usable(button('Test connection of relay 2'));
    await button('Add a throttle').click();
    await usable(page.getByLabel('Domains of throttle 1'));
    await usable(page.getByLabel('Messages a minute of throttle 1'));
    await fits('settings-relays');
    await button('Remove relay 2').click();
    await button('Remove throttle 1').click();
    await usable(button('Save settings'));
    // The bounce policy, saved by the admin.
    await page.getByLabel('Soft bounces that quarantine').fill('4');
    await usable(button('Save the bounce policy'));
    await button('Save the bounce policy').click();
    await page.getByRole('status').filter({ hasText: 'Bounce policy saved' }).waitFor();
    // A webhook: registered, its secret shown once, a test event delivered and in its log, then removed.
    const host = `127.0.0.1:${(hooks.address() as AddressInfo).port}`;
    await page.getByLabel('Endpoint URL').fill(`http://${host}/hooks`);
    await button('Add the webhook').click();
    await page
      .getByRole('status')
      .filter({ hasText: `The signing secret of ${host}` })
      .waitFor();
    await usable(button(`Send a test event to ${host}`));
    await button(`Send a test event to ${host}`).click();
    await expect.poll(() => page.getByRole('status', { name: `Test of ${host}` }).textContent()).toBe('Delivered: 200 OK');
    expect(JSON.parse(hooked.at(-1)!)).toMatchObject({ event: 'test', data: { message: 'A test event from Mailroom.' } });
    await button(`Show the log of ${host}`).click();
    await page
      .getByRole('table', { name: `Log of ${host}` })
      .getByText('delivered')
      .waitFor();
    await fits('settings');
    await button(`Remove ${host}`).click();
    await button(`Yes, remove ${host}`).click();
    await expect.poll(() => page.getByRole('list', { name: 'Webhooks' }).count()).toBe(0);
  });
});
