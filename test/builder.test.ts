/**
 * The visual builder, end to end: a message built from blocks (a section, a text with a
 * field inserted from the menu, an image uploaded, a button), reordered and undone, is
 * compiled from MJML in the browser, prepared, previewed, proofed and sent, and the message
 * the sink received is read back with mailparser: the blocks, the personalized value and the
 * image's URL. Then a built delivery is switched to MJML code, one way, after a warning.
 * The real server process, the built app in Chromium, the SQLite file read to check.
 */

import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { simpleParser } from 'mailparser';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { codeText, launchBrowser, type TestBrowser } from './support/browser';
import { png } from './support/png';
import { removeDataDir, startServer, type ServerProcess } from './support/server';

let server: ServerProcess;
let chromium: TestBrowser;
let context: BrowserContext;
let page: Page;
let db: Database.Database;

beforeAll(async () => {
  server = await startServer();
  db = new Database(join(server.dataDir, 'mailroom.db'), { readonly: true });
  chromium = await launchBrowser();
  context = await chromium.browser.newContext({ viewport: { width: 1400, height: 1000 } });
  page = await context.newPage();
  page.on('pageerror', (error) => console.error(`page error: ${error.message}`));
  await page.goto(server.url);
  await page.getByLabel('Username').fill('admin');
  await page.getByLabel('Password').fill(server.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByText('10,000 profiles').first().waitFor({ timeout: 30_000 });
});

afterEach(async (test) => {
  if (test.task.result?.state !== 'fail') return;
  const file = join(tmpdir(), `mailroom-builder-${test.task.name.replace(/\W+/g, '-').slice(0, 50)}.png`);
  await page.screenshot({ path: file, fullPage: true }).catch(() => undefined);
  console.error(`screenshot at the failed step: ${file}`);
});

afterAll(async () => {
  await chromium?.close();
  db?.close();
  await server?.stop();
  if (server) removeDataDir(server.dataDir);
});

const button = (name: string) => page.getByRole('button', { name, exact: true });
const confirm = (name: string) => page.getByRole('dialog').getByRole('button', { name, exact: true });
const blocks = () => page.getByRole('list', { name: 'Blocks' }).getByRole('listitem');
const live = () => page.getByRole('region', { name: 'Live preview', exact: true }).frameLocator('iframe[title="Live preview"]');

/** A subscribed profile that no rule of the default typology excludes: the one recipient. */
function recipient(): { email: string; first: string } {
  return db
    .prepare(
      `SELECT email, first_name AS first FROM profiles p WHERE status = 'subscribed' AND first_name <> ''
         AND email LIKE '%@example.com' AND email NOT IN (SELECT email FROM denylist) AND email NOT IN (SELECT email FROM quarantine) ORDER BY id LIMIT 1`,
    )
    .get() as never;
}

describe('the visual builder', () => {
  it('builds a message from blocks that is prepared, proofed and sent, and arrives as built', async () => {
    const to = recipient();
    await button('New delivery').click();
    await page.waitForURL(/\/deliveries\//);
    await page.getByLabel('Name', { exact: true }).fill('Built winter');
    await page.getByRole('group', { name: 'Include', exact: true }).getByRole('button', { name: 'Add condition' }).click();
    await page.getByLabel('Include, condition 1: field').selectOption({ label: 'Email' });
    await page.getByLabel('Include, condition 1: operator').selectOption({ label: 'equals' });
    await page.getByLabel('Include, condition 1: value').fill(to.email);
    await expect.poll(() => page.getByRole('status', { name: 'Live count' }).textContent()).toBe('1 profiles in the local audience match');

    // From HTML to the builder: the body is replaced, after a confirm.
    await button('Visual builder…').click();
    expect(await page.getByRole('dialog').textContent()).toContain('The body is replaced by a starting layout of blocks');
    await confirm('Switch').click();
    await expect.poll(() => page.getByTestId('body-format').textContent()).toContain('Visual builder');
    await expect.poll(() => blocks().count()).toBe(4);

    // The section's heading, and a text with a field from the menu.
    await page.getByRole('textbox', { name: 'Heading of Section 1' }).fill('Winter is coming');
    const text = page.getByRole('textbox', { name: 'Text of Text 2' });
    await text.fill('Dear ');
    await text.press('End');
    await page.getByLabel('Insert a field (Text of Text 2)').selectOption({ label: 'First name' });
    await expect.poll(() => text.textContent()).toBe('Dear {{ first_name }}');
    await text.selectText();
    await page.getByLabel('Bold (Text of Text 2)').click();
    await expect.poll(() => text.innerHTML()).toBe('<b>Dear {{ first_name }}</b>');

    // An image, uploaded from the block's picker.
    await button('+ Image').click();
    const picker = page.getByRole('dialog', { name: 'Insert an image' });
    await picker.getByLabel('Upload an image').setInputFiles({ name: 'winter.png', mimeType: 'image/png', buffer: png(400, 200) });
    await picker.getByRole('button', { name: /^winter\.png 400×200/, pressed: true }).waitFor();
    await picker.getByLabel(/^Alt text/).fill('Snowy boots');
    await picker.getByRole('button', { name: 'Insert the image' }).click();
    const { hash } = db.prepare("SELECT hash FROM assets WHERE name = 'winter.png'").get() as { hash: string };
    const imageUrl = `${server.url}/a/${hash}.png`;
    // Added before the footer: Section, Text, Button, Image, Footer.
    await expect
      .poll(() => blocks().evaluateAll((items) => items.map((li) => li.getAttribute('aria-label'))))
      .toEqual(['Section 1', 'Text 2', 'Button 3', 'Image 4', 'Footer 5']);
    await page.getByRole('button', { name: 'Move Image 4 up' }).click();
    await expect.poll(() => blocks().nth(2).getByRole('img', { name: /Drag/ }).getAttribute('aria-label')).toBe('Drag Image 3 to reorder');
    // Undo puts it back, Redo moves it again.
    await button('Undo').click();
    await expect.poll(() => blocks().nth(3).getByText('Image 4', { exact: true }).count()).toBe(1);
    await button('Redo').click();
    await expect.poll(() => blocks().nth(2).getByText('Image 3', { exact: true }).count()).toBe(1);

    // Dragged by its handle onto the text block, the image takes its place; dragged back, it is third again.
    await page.getByRole('img', { name: 'Drag Image 3 to reorder' }).dragTo(blocks().nth(1));
    await expect.poll(() => blocks().nth(1).getByText('Image 2', { exact: true }).count()).toBe(1);
    await page.getByRole('img', { name: 'Drag Image 2 to reorder' }).dragTo(blocks().nth(2));
    await expect.poll(() => blocks().nth(2).getByText('Image 3', { exact: true }).count()).toBe(1);
    await page.getByLabel('Label of Button 4').fill('Shop winter');
    await page.getByLabel('Link of Button 4').fill('https://shop.example.com/winter');

    // The live preview shows the compiled message for the recipient, the image from the public URL.
    await expect.poll(() => live().locator('body').textContent(), { timeout: 15_000 }).toContain('Winter is coming');
    await expect.poll(() => live().locator('body').textContent()).toContain(`Dear ${to.first}`);
    await expect
      .poll(() =>
        live()
          .locator(`img[src="${imageUrl}"]`)
          .evaluate((img: HTMLImageElement) => img.naturalWidth),
      )
      .toBe(400);
    await expect.poll(() => live().getByRole('link', { name: 'Shop winter' }).count()).toBe(1);

    // Prepare, preview, proof, send.
    await page.waitForTimeout(800); // saved
    await button('Prepare').click();
    await confirm('Yes, prepare').click();
    await expect.poll(() => page.getByTestId('delivery-status').textContent(), { timeout: 30_000 }).toBe('Prepared');
    const preview = page.getByRole('region', { name: 'Message preview' });
    await expect
      .poll(() => preview.frameLocator('iframe[title="Message preview"]').locator('body').textContent())
      .toContain(`Dear ${to.first}`);
    await preview.getByLabel('Proof to (test addresses)').fill('proof@example.com');
    await preview.getByRole('button', { name: 'Send proof' }).click();
    await expect
      .poll(() => preview.getByRole('status', { name: 'Proof' }).textContent(), { timeout: 15_000 })
      .toBe('1 proof sent to proof@example.com.');
    const proof = await simpleParser(db.prepare("SELECT raw FROM mailbox WHERE envelope_to = 'proof@example.com'").pluck().get() as Buffer);
    expect(proof.html).toContain('Winter is coming');

    await button('Send').click();
    await confirm('Yes, send').click();
    const sent = () => db.prepare('SELECT raw FROM mailbox WHERE envelope_to = ?').pluck().get(to.email) as Buffer | undefined;
    await expect.poll(() => sent() !== undefined, { timeout: 30_000 }).toBe(true);
    const received = await simpleParser(sent()!);
    const html = String(received.html);
    expect(html).toContain('Winter is coming');
    expect(html).toContain(`<b>Dear ${to.first}</b>`);
    expect(html).toContain(`src="${imageUrl}"`);
    expect(html).toContain('alt="Snowy boots"');
    // In order: the section, the text, the image, the button, the footer's unsubscribe link (signed, tracked links).
    const at = (needle: string) => html.indexOf(needle);
    expect(at('Winter is coming')).toBeLessThan(at(`Dear`));
    expect(at('Dear')).toBeLessThan(at(imageUrl));
    expect(at(imageUrl)).toBeLessThan(at('Shop winter'));
    expect(html).toMatch(/href="[^"]*\/t\/c\/[^"]+"[^>]*>\s*Shop winter/);
    expect(html).toMatch(/href="[^"]*\/u\/[^"]+"/);
    expect(received.text).toContain('Shop winter');
  });

  it('switches a built delivery to MJML code, one way, after saying so', async () => {
    await page.goto(server.url);
    await button('New from a template').click();
    await page.getByRole('dialog', { name: 'Start from a template' }).getByRole('button', { name: 'Use Built with blocks' }).click();
    await page.waitForURL(/\/deliveries\//);
    await expect.poll(() => blocks().count()).toBe(4);
    await button('MJML code…').click();
    expect(await page.getByRole('dialog').textContent()).toContain('One way: the visual builder cannot read code back');
    await confirm('Switch').click();
    await expect.poll(() => page.getByTestId('body-format').textContent()).toContain('MJML code');
    await expect.poll(() => codeText(page, 'MJML body')).toContain('<mj-button');
    expect(await page.getByRole('group', { name: 'Visual builder' }).count()).toBe(0);
    await expect.poll(() => live().locator('body').textContent()).toContain('Our autumn collection');
  });
});
