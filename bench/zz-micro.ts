import { compileMessage, renderMessage } from '../shared/message';
import { cutLinks, joinTracked } from '../server/tracking/rewrite';
import { createTokenSigner } from '../server/tracking/tokens';
import { createHash, createHmac } from 'node:crypto';
const block = `<tr><td style="padding:12px;font-family:Arial,sans-serif;font-size:15px;color:#333">
  Our autumn collection is in the shops: coats, scarves and boots, hand-picked for you.
  <a href="https://shop.example.com/autumn?utm_source=mail">See the collection</a></td></tr>\n`;
let html = `<html><body><h1>Hello {{ first_name | default: "there" }} {{ last_name }},</h1><p>Shop in {{ city }}.</p><table>`;
while (html.length < 9_300) html += block;
html += `</table><p><a href="{{ unsubscribe_url }}">Unsubscribe</a></p></body></html>`;
const r = compileMessage({ subject: 'Hi', html } as any, ['first_name', 'last_name', 'city'] as any) as any;
if (!r.ok) {
  console.log(r);
  process.exit(1);
}
const m = r.message;
const time = (name: string, f: () => unknown, n = 20000) => {
  for (let i = 0; i < 2000; i++) f();
  const t = performance.now();
  for (let i = 0; i < n; i++) f();
  console.log(name, (((performance.now() - t) * 1000) / n).toFixed(2), 'µs');
};
const values = { first_name: 'Reader1', last_name: 'Family1', city: 'Gent' };
const sendAt = new Date();
const rendered = renderMessage(m, values, { unsubscribeUrl: 'https://x/u/abc', sendAt });
console.log('html', rendered.html.length, 'text', rendered.text.length);
time('renderMessage', () => renderMessage(m, values, { unsubscribeUrl: 'https://x/u/abc', sendAt }));
time('html only', () => m.html.render({ ...values, unsubscribe_url: 'x' }, 'html', 0));
time('text render only', () => m.text.render({ ...values, unsubscribe_url: 'x' }, 'text', 0));
time('cutLinks', () => cutLinks(rendered.html, 'https://x/u/abc'));
const cut = cutLinks(rendered.html, 'https://x/u/abc');
time('joinTracked', () => joinTracked(cut, ['https://t/c/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'], 'https://t/o/bbbbbbbbbbbbbbbbbbbb'));
const signer = createTokenSigner('secret-secret-secret');
time('sign', () => signer.sign({ purpose: 'c', deliveryId: 'bench', journalId: 12345, linkId: 1 }));
time('createHmac', () => createHmac('sha256', 'secret-secret-secret').update('c.bench.12345.1').digest());
const key = Buffer.alloc(64);
Buffer.from('secret-secret-secret').copy(key);
const inner = createHash('sha256').update(key.map((b) => b ^ 0x36));
const outer = createHash('sha256').update(key.map((b) => b ^ 0x5c));
const hm = (s: string) => outer.copy().update(inner.copy().update(s).digest()).digest();
console.log(hm('c.bench.12345.1').equals(createHmac('sha256', 'secret-secret-secret').update('c.bench.12345.1').digest()));
time('hash copy hmac', () => hm('c.bench.12345.1'));
