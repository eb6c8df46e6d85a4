import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createKit, type Kit } from '../test-kit';
import { MAILBOX_PAGE_SIZE } from './mailbox-page';

let kit: Kit;
beforeEach(async () => (kit = await createKit()));
afterEach(() => kit.close());

/** Puts a message in the sink's mailbox, as the sink stores what it accepts; resolves its id. */
function receive(to: string, subject: string, from = 'news@shop.example.com', fromName = 'Shop') {
  const raw = Buffer.from(
    `From: ${fromName} <${from}>\r\nTo: ${to}\r\nSubject: ${subject}\r\nMIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>Hello</p>\r\n`,
  );
  return kit.services.mailbox.add({ receivedAt: new Date().toISOString(), envelopeFrom: from, envelopeTo: to, raw });
}
const page = async (query = '') => {
  const response = await kit.app.request(`/mailbox${query}`, { headers: { cookie: kit.cookie } });
  return { response, html: await response.text() };
};
/** The subjects listed, in order. */
const subjects = (html: string) => [...html.matchAll(/<td data-label="Subject"><a href="[^"]*">([^<]*)<\/a>/g)].map((m) => m[1]);
/** The address of a link of the page, by its text. */
const link = (html: string, text: string) => new RegExp(`<a[^>]*href="([^"]*)"[^>]*>${text}</a>`).exec(html)?.[1]?.replace(/&amp;/g, '&');

describe('the mailbox page', () => {
  it("has the app's navigation as plain links, and no script", async () => {
    await receive('anna@example.com', 'Autumn sale');
    const { response, html } = await page();
    expect(response.status).toBe(200);
    const nav = /<nav aria-label="Main">(.*?)<\/nav>/.exec(html)![1];
    expect([...nav.matchAll(/<a href="([^"]+)"[^>]*>([^<]+)<\/a>/g)].map((m) => [m[1], m[2]])).toEqual([
      ['/', 'Deliveries'],
      ['/audience', 'Audience'],
      ['/typologies', 'Typologies'],
      ['/settings', 'Settings'],
      ['/mailbox', 'Mailbox'],
    ]);
    expect(html).not.toMatch(/<script|\son[a-z]+=/i);
    expect(response.headers.get('content-security-policy')).toMatch(/script-src 'self'(;| )/);
    expect(html).toContain('<meta name="viewport" content="width=device-width,initial-scale=1">');
  });

  it('finds messages by recipient, sender or subject (an encoded subject too), ignoring case; every word must match', async () => {
    await receive('anna@example.com', 'Autumn sale');
    await receive('bram@example.org', 'Winter coats');
    await receive('cees@example.com', '=?utf-8?B?' + Buffer.from('Zoë’s pick: Autumn').toString('base64') + '?=');
    await receive('daan@example.com', 'Receipt', 'billing@other.example', 'Billing team');
    expect(subjects((await page('?q=autumn')).html)).toEqual(['Zoë’s pick: Autumn', 'Autumn sale']);
    expect(subjects((await page('?q=EXAMPLE.ORG')).html)).toEqual(['Winter coats']);
    expect(subjects((await page('?q=billing')).html)).toEqual(['Receipt']);
    expect(subjects((await page('?q=billing+team')).html)).toEqual(['Receipt']);
    expect(subjects((await page('?q=autumn+anna')).html)).toEqual(['Autumn sale']);
    const none = (await page('?q=nobody')).html;
    expect(none).toContain('0 of 4 messages match “nobody”');
    expect(none).toContain('No message matches.');
    // The search box keeps what was searched, escaped.
    expect((await page('?q=%22%3E%3Cb%3E')).html).toContain('value="&quot;&gt;&lt;b&gt;"');
  });

  it('pages through every message, newest first, and back, keeping the search', async () => {
    for (let i = 1; i <= 2 * MAILBOX_PAGE_SIZE + 10; i++) await receive(`person${i}@example.com`, `Message ${i}`);
    await receive('other@example.com', 'Not this one');
    const first = (await page('?q=message')).html;
    expect(first).toContain(`110 of 111 messages match “message”; showing 1–50 of 110, newest first.`);
    expect(subjects(first)[0]).toBe('Message 110');
    expect(link(first, '← Newer')).toBeUndefined();
    const second = (await page(link(first, 'Older →')!.replace('/mailbox', ''))).html;
    expect(second).toContain('showing 51–100 of 110');
    expect(subjects(second)).toEqual(Array.from({ length: 50 }, (_, i) => `Message ${60 - i}`));
    const third = (await page(link(second, 'Older →')!.replace('/mailbox', ''))).html;
    expect(subjects(third)).toEqual(Array.from({ length: 10 }, (_, i) => `Message ${10 - i}`));
    expect(link(third, 'Older →')).toBeUndefined();
    const back = (await page(link(third, '← Newer')!.replace('/mailbox', ''))).html;
    expect(subjects(back)).toEqual(subjects(second));
    expect(subjects((await page(link(back, '← Newer')!.replace('/mailbox', ''))).html)).toEqual(subjects(first));
    // A message opened from a page leads back to that page.
    const opened = await kit.app.request(link(third, 'Message 3')!, { headers: { cookie: kit.cookie } });
    expect(link(await opened.text(), 'Back to the mailbox')).toBe(link(second, 'Older →'));
  });

  it('sends the signed-out to sign in', async () => {
    const response = await kit.app.request('/mailbox?q=x');
    expect(response.status).toBe(302);
    expect(response.headers.get('location')).toBe('/login?next=%2Fmailbox');
  });
});
