/**
 * Writing a message, end to end: the HTML body's code editor (CodeMirror) with completion of
 * the audience's fields, the renderer's error marked at its line, and the live preview beside
 * it, rendered for profiles of the local audience as the body is typed. The real server
 * process, the built app in Chromium, the audience from IndexedDB; the profiles' values are
 * read from the SQLite file to know what the preview must show.
 */

import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { codeText, fillCode, launchBrowser, type TestBrowser } from './support/browser';
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
  await page.goto(server.url);
  await page.waitForURL(/\/login/);
  await page.getByLabel('Username').fill('admin');
  await page.getByLabel('Password').fill(server.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByText('10,000 profiles').waitFor({ timeout: 30_000 });
});

afterAll(async () => {
  await chromium?.close();
  db?.close();
  await server?.stop();
  if (server) removeDataDir(server.dataDir);
});

/** The first two profiles of the audience in id order (what the live preview steps through first). */
function firstProfiles(): { email: string; first: string; last: string }[] {
  return db.prepare('SELECT email, first_name AS first, last_name AS last FROM profiles ORDER BY id LIMIT 2').all() as never;
}

/** The HTML body's CodeMirror: its content, and the editor around it (with its gutter). */
const htmlBody = () => page.locator('.cm-content[aria-label="HTML body"]');
const bodyEditor = () => page.locator('.cm-editor', { has: htmlBody() });
const live = () => page.getByRole('region', { name: 'Live preview', exact: true });
const liveHeading = () => live().frameLocator('iframe[title="Live preview"]').locator('h1');

describe('the message editor', () => {
  it('shows the body in a code editor, and the live preview of the first profile of the local audience', async () => {
    await page.getByRole('button', { name: 'New delivery' }).click();
    await page.waitForURL(/\/deliveries\//);
    await htmlBody().waitFor();
    expect(await page.getByRole('textbox', { name: 'HTML body' }).getAttribute('contenteditable')).toBe('true');
    expect(await codeText(page, 'HTML body')).toContain('{{ unsubscribe_url }}');
    const [first] = firstProfiles();
    await expect.poll(() => live().getByTestId('live-profile').textContent()).toContain(`<${first.email}>`);
    await expect.poll(() => liveHeading().textContent()).toBe(`Hello ${first.first},`);
    expect(await live().locator('iframe').getAttribute('sandbox')).toBe('');
    expect(await live().getByRole('group', { name: 'Inbox line' }).textContent()).toContain(`Hello ${first.first}, the autumn collection`);
    // The starting body passes the control rules: it has a preheader, which the inbox line shows.
    expect(await live().getByRole('group', { name: 'Inbox line' }).textContent()).toContain('Coats, knits and boots');
    expect(await live().getByRole('list', { name: 'Checks of the message' }).count()).toBe(0);
  });

  it('follows each edit within a moment, for one profile and then the next', async () => {
    const [first, second] = firstProfiles();
    await fillCode(
      page,
      'HTML body',
      '<h1>Dear {{ first_name }} {{ last_name }}</h1>\n<p><a href="{{ unsubscribe_url }}">Unsubscribe</a></p>',
    );
    await expect.poll(() => liveHeading().textContent()).toBe(`Dear ${first.first} ${first.last}`);
    // The typology's control rules are checked as it is written.
    await expect.poll(() => live().getByRole('list', { name: 'Checks of the message' }).textContent()).toContain('Preheader:');
    await live().getByRole('button', { name: 'Next profile' }).click();
    await expect.poll(() => liveHeading().textContent()).toBe(`Dear ${second.first} ${second.last}`);
    // Found by address: the preview shows that profile.
    await live().getByLabel('Find a profile for the live preview').fill(first.email);
    await live().getByRole('button', { name: 'Find' }).click();
    await expect.poll(() => liveHeading().textContent()).toBe(`Dear ${first.first} ${first.last}`);
    await live().getByRole('radio', { name: 'Mobile' }).check();
    // 375 px inside its 1 px border.
    await expect.poll(async () => (await live().locator('iframe').boundingBox())!.width).toBe(377);
    await live().getByRole('radio', { name: 'Desktop' }).check();
  });

  it('completes a field of the audience and a filter, each with what it is', async () => {
    const [first] = firstProfiles();
    await fillCode(page, 'HTML body', '<h1>Hi</h1>\n');
    const body = page.getByRole('textbox', { name: 'HTML body' });
    await body.click();
    await page.keyboard.press('Control+End');
    await page.keyboard.type('<h2>{{ last_n');
    const options = page.getByRole('listbox');
    await options.getByRole('option', { name: /last_name/ }).waitFor();
    expect(await options.getByRole('option', { name: /last_name/ }).textContent()).toContain('Last name (text)');
    await page.keyboard.press('Enter');
    await page.keyboard.type(' | up');
    await options.getByRole('option', { name: /upcase/ }).waitFor();
    await page.keyboard.press('Enter');
    await page.keyboard.type(' }}');
    await expect.poll(() => codeText(page, 'HTML body')).toContain('<h2>{{ last_name | upcase }}');
    // Tab indents in the editor; Escape then Tab leaves it: the keyboard is not trapped.
    await page.keyboard.press('Escape');
    await page.keyboard.press('Escape');
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.classList.contains('cm-content'))).toBe(false);
    await expect.poll(() => live().frameLocator('iframe[title="Live preview"]').locator('h2').textContent()).toBe(first.last.toUpperCase());
  });

  it('marks the renderer’s error at its line as it is typed, and keeps the last message that rendered', async () => {
    await fillCode(page, 'HTML body', '<h1>Hello</h1>\n<p>{{ first_name </p>\n<p>Bye</p>');
    await live().getByRole('alert', { name: 'Template error' }).waitFor();
    expect(await live().getByRole('alert', { name: 'Template error' }).textContent()).toMatch(
      /^The HTML body has an error: .*\(line 2, column \d+\)\.$/,
    );
    // The mark is on line 2 of the editor, and the gutter says so too.
    const marked = htmlBody().locator('.cm-line', { has: page.locator('.cm-lintRange-error') });
    await marked.waitFor();
    expect(await marked.textContent()).toBe('<p>{{ first_name </p>');
    expect(await bodyEditor().locator('.cm-lint-marker-error').count()).toBe(1);
    await expect.poll(() => liveHeading().textContent()).toMatch(/^Hi/);
    await fillCode(page, 'HTML body', '<h1>Hello {{ first_name }}</h1>\n<p><a href="{{ unsubscribe_url }}">Unsubscribe</a></p>');
    await expect.poll(() => live().getByRole('alert').count()).toBe(0);
    await expect.poll(() => htmlBody().locator('.cm-lintRange-error').count()).toBe(0);
    // A field the audience does not have is marked where it is used, and the checks say so.
    await fillCode(
      page,
      'HTML body',
      '<h1>Hello {{ first_name }}</h1>\n<p>Size {{ shoe_size }}</p>\n<p><a href="{{ unsubscribe_url }}">Unsubscribe</a></p>',
    );
    await expect.poll(() => htmlBody().locator('.cm-lintRange-error').allTextContents()).toEqual(['shoe_size']);
    await expect
      .poll(() => live().getByRole('list', { name: 'Checks of the message' }).textContent())
      .toContain('Personalization fields: The field "shoe_size" does not exist in the audience.');
    await fillCode(page, 'HTML body', '<h1>Hello {{ first_name }}</h1>\n<p><a href="{{ unsubscribe_url }}">Unsubscribe</a></p>');
    await expect.poll(() => htmlBody().locator('.cm-lintRange-error').count()).toBe(0);
    await expect.poll(() => liveHeading().textContent()).toBe(`Hello ${firstProfiles()[0].first}`);
  });

  it('writes the subject in a one-line code editor: completion, its error marked, no second line, the inbox line following', async () => {
    const [first] = firstProfiles();
    const subject = page.getByRole('textbox', { name: 'Subject', exact: true });
    await page.locator('.cm-content[aria-label="Subject"]').waitFor();
    expect(await subject.getAttribute('aria-multiline')).toBe('false');
    await fillCode(page, 'Subject', 'News for ');
    await subject.click();
    await page.keyboard.press('End');
    await page.keyboard.type('{{ first_n');
    const options = page.getByRole('listbox');
    await options.getByRole('option', { name: /first_name/ }).waitFor();
    await page.keyboard.press('Enter');
    await page.keyboard.type(' }}');
    // Enter adds no second line to a subject.
    await page.keyboard.press('Enter');
    await expect.poll(() => codeText(page, 'Subject')).toBe('News for {{ first_name }}');
    const inbox = live().getByRole('group', { name: 'Inbox line' });
    await expect.poll(() => inbox.textContent()).toContain(`News for ${first.first}`);

    await fillCode(page, 'Subject', 'News for {{ first_name');
    const subjectEditor = page.locator('.cm-editor', { has: page.locator('.cm-content[aria-label="Subject"]') });
    await subjectEditor.locator('.cm-lintRange-error').waitFor();
    await expect.poll(() => live().getByRole('alert', { name: 'Template error' }).textContent()).toMatch(/^The subject has an error: /);
    await fillCode(page, 'Subject', 'News for {{ first_name }}');
    await expect.poll(() => subjectEditor.locator('.cm-lintRange-error').count()).toBe(0);
    await expect.poll(() => live().getByRole('alert').count()).toBe(0);
  });

  it('starts a delivery from a starter template, shown in the gallery and then in the editor and the live preview', async () => {
    await page.getByRole('link', { name: 'Deliveries', exact: true }).first().click();
    await page.getByRole('button', { name: 'New from a template' }).click();
    const gallery = page.getByRole('dialog', { name: 'Start from a template' });
    await gallery.waitFor();
    expect(await gallery.getByRole('button', { name: /^Use / }).allTextContents()).toEqual([
      'Use Newsletter',
      'Use Promotion',
      'Use Event invitation',
      'Use Notice',
      'Use Plain letter',
      'Use MJML newsletter',
      'Use Built with blocks',
    ]);
    for (const frame of await gallery.locator('iframe').all()) expect(await frame.getAttribute('sandbox')).toBe('');
    await gallery.getByRole('button', { name: 'Use Event invitation' }).click();
    await page.waitForURL(/\/deliveries\//);
    await expect.poll(() => page.getByLabel('Name', { exact: true }).inputValue()).toBe('Event invitation (new)');
    await htmlBody().waitFor();
    await expect.poll(() => codeText(page, 'HTML body')).toContain('You are invited to our autumn evening');
    await expect.poll(() => liveHeading().textContent()).toBe('You are invited to our autumn evening');
    expect(await live().getByRole('list', { name: 'Checks of the message' }).count()).toBe(0);
  });

  it('saves what the editor holds: a reload shows it again', async () => {
    // CodeMirror draws the lines near the view: compare the lines drawn before the reload with as many after it.
    const text = await codeText(page, 'HTML body');
    const drawn = text.split('\n').length;
    expect(drawn).toBeGreaterThan(10);
    // The form saves a moment after the last edit.
    await page.waitForTimeout(800);
    await page.reload();
    await htmlBody().waitFor();
    await expect.poll(async () => (await codeText(page, 'HTML body')).split('\n').slice(0, drawn).join('\n')).toBe(text);
  });
  it('uploads an image, inserts it where the cursor is, shows it from the public URL, and weighs it', async () => {
    await fillCode(page, 'HTML body', '<h1>Coats</h1>\n<p><a href="{{ unsubscribe_url }}">Unsubscribe</a></p>\n');
    await page.getByRole('button', { name: 'Insert an image…' }).click();
    const picker = page.getByRole('dialog', { name: 'Insert an image' });
    // What is not an image is refused by the server, which says what it takes.
    await picker
      .getByLabel('Upload an image')
      .setInputFiles({ name: 'notes.png', mimeType: 'image/png', buffer: Buffer.from('not an image') });
    await expect.poll(() => picker.getByRole('alert').textContent()).toContain('not an image Mailroom can read');
    await picker.getByLabel('Upload an image').setInputFiles({ name: 'coats.png', mimeType: 'image/png', buffer: png(300, 120) });
    await picker.getByRole('button', { name: /^coats\.png 300×120/, pressed: true }).waitFor();
    await picker.getByLabel(/^Alt text/).fill('Coats & boots');
    await picker.getByRole('button', { name: 'Insert the image' }).click();
    const { hash } = db.prepare("SELECT hash FROM assets WHERE name = 'coats.png'").get() as { hash: string };
    const url = `${server.url}/a/${hash}.png`;
    await expect.poll(() => codeText(page, 'HTML body')).toContain(`<img src="${url}" width="300" alt="Coats &amp; boots"`);
    // The live preview loads it from the server, in its sandboxed frame.
    const image = live().frameLocator('iframe[title="Live preview"]').locator(`img[src="${url}"]`);
    await expect.poll(() => image.evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth)).toBe(300);
    expect(await live().getByRole('list', { name: 'Checks of the message' }).count()).toBe(0);

    // A heavy image: the control rule weighs the message with it.
    await page.getByRole('button', { name: 'Insert an image…' }).click();
    await picker
      .getByLabel('Upload an image')
      .setInputFiles({ name: 'heavy.png', mimeType: 'image/png', buffer: png(1200, 1000, { noise: true }) });
    await picker.getByRole('button', { name: /^heavy\.png 1200×1000/, pressed: true }).waitFor();
    await picker.getByRole('button', { name: 'Insert the image' }).click();
    await expect
      .poll(() => live().getByRole('list', { name: 'Checks of the message' }).textContent())
      .toMatch(/Total size with images: The message weighs 1\.\d\d MB with its images/);
  });

  it('offers a typology copied before the markup rules existed the control rules it lacks', async () => {
    await page.goto(`${server.url}/typologies`);
    await page.getByRole('button', { name: 'Default', exact: true }).click();
    await page.getByRole('button', { name: 'Make a copy' }).click();
    await page.getByLabel('Typology name').fill('Copied long ago');
    await page.getByRole('button', { name: 'Save typology' }).click();
    await page.getByText('Typology "Copied long ago" saved.').waitFor();
    expect(await page.getByRole('button', { name: /control rules? of Default this typology lacks/ }).count()).toBe(0);
    // As a copy made before the Preheader and Dark mode rules were added holds it.
    await page.evaluate(async () => {
      const idb = await new Promise<IDBDatabase>((done, fail) => {
        const open = indexedDB.open('mailroom');
        open.onsuccess = () => done(open.result);
        open.onerror = () => fail(open.error);
      });
      const store = idb.transaction('typologies', 'readwrite').objectStore('typologies');
      const all = await new Promise<{ name: string; rules: { check?: string }[] }[]>((done) => {
        const request = store.getAll();
        request.onsuccess = () => done(request.result);
      });
      const copy = all.find((t) => t.name === 'Copied long ago')!;
      copy.rules = copy.rules.filter((rule) => rule.check !== 'preheader' && rule.check !== 'dark-mode');
      await new Promise((done) => (store.put(copy).onsuccess = done));
      idb.close();
    });
    await page.reload();
    await page.getByRole('button', { name: 'Copied long ago', exact: true }).click();
    await page.getByRole('button', { name: 'Add the 2 control rules of Default this typology lacks' }).click();
    await page.getByRole('checkbox', { name: 'Preheader: on' }).waitFor();
    await page.getByRole('checkbox', { name: 'Dark mode: on' }).waitFor();
    expect(await page.getByRole('button', { name: /control rules? of Default this typology lacks/ }).count()).toBe(0);
  });
});
