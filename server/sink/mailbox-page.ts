/**
 * The mailbox page of the built-in sink: what recipients would have received, for the
 * operator to read, searchable by recipient, sender or subject and paged newest first.
 * Server-rendered without a script (the Content-Security-Policy allows none inline): the
 * app's navigation as plain links, a GET form for the search, links for the pages, and
 * inline styles that lay the list out as cards on a phone. Messages render in a sandboxed
 * iframe; their links open in a new tab, so opening and clicking behave as in a mail client.
 */

import { Hono } from 'hono';
import { getCookie } from 'hono/cookie';
import { simpleParser } from 'mailparser';
import { z } from 'zod';
import { escapeHtml } from '../../shared/template';
import { SESSION_COOKIE } from '../routes/session';
import type { AppEnv } from '../services';

/** Messages on one page of the list. */
export const MAILBOX_PAGE_SIZE = 50;

const listQuery = z.object({
  q: z.string().max(200).catch(''),
  before: z.coerce.number().int().min(1).optional().catch(undefined),
  after: z.coerce.number().int().min(1).optional().catch(undefined),
});

export const mailboxPage = new Hono<AppEnv>()
  .use(async (c, next) => {
    const token = getCookie(c, SESSION_COOKIE);
    if (!token || !(await c.var.services.operators.sessionUser(token, c.var.services.now()))) {
      return c.redirect(`/login?next=${encodeURIComponent(c.req.path)}`, 302);
    }
    await next();
  })
  .get('/', async (c) => {
    const { q, before, after } = listQuery.parse(c.req.query());
    const search = q.trim();
    const page = await c.var.services.mailbox.page({ search, before, after, limit: MAILBOX_PAGE_SIZE });
    const here = listUrl(search, before, after);
    const rows = page.messages
      .map(
        (
          m,
        ) => `<tr><td data-label="Subject"><a href="/mailbox/${m.id}?back=${encodeURIComponent(here)}">${escapeHtml(m.subject || '(no subject)')}</a></td>
        <td data-label="To">${escapeHtml(m.envelopeTo)}</td><td data-label="From">${escapeHtml(m.envelopeFrom)}</td>
        <td data-label="Received"><time datetime="${m.receivedAt}">${m.receivedAt.replace('T', ' ').slice(0, 19)}</time></td></tr>`,
      )
      .join('');
    const n = (count: number) => count.toLocaleString('en-US');
    const total = await c.var.services.mailbox.count();
    const shown = page.messages.length
      ? `${n(page.newerCount + 1)}–${n(page.newerCount + page.messages.length)} of ${n(page.total)}`
      : `0 of ${n(page.total)}`;
    const summary = search
      ? `<p role="status">${n(page.total)} of ${n(total)} messages match “${escapeHtml(search)}”${page.total ? `; showing ${shown}, newest first` : ''}. <a href="/mailbox">Show all</a></p>`
      : `<p role="status">${n(total)} messages received by the built-in SMTP sink${total ? `; showing ${shown}, newest first` : ''}.</p>`;
    const pager =
      page.newer !== null || page.older !== null
        ? `<nav class="pager" aria-label="Pages">${
            page.newer !== null ? `<a rel="prev" href="${escapeHtml(listUrl(search, undefined, page.newer))}">← Newer</a>` : '<span></span>'
          }${page.older !== null ? `<a rel="next" href="${escapeHtml(listUrl(search, page.older))}">Older →</a>` : ''}</nav>`
        : '';
    const table = page.messages.length
      ? `<table><thead><tr><th>Subject</th><th>To</th><th>From</th><th>Received</th></tr></thead><tbody>${rows}</tbody></table>`
      : search
        ? '<p>No message matches. Search by part of an address or of the subject.</p>'
        : '<p>No message yet: what Mailroom sends through the built-in sink shows here.</p>';
    return c.html(
      layout(
        'Mailbox',
        `<form class="search" method="get" action="/mailbox" role="search">
          <label for="mailbox-search">Search by recipient, sender or subject</label>
          <div><input id="mailbox-search" type="search" name="q" value="${escapeHtml(search)}" placeholder="anna@example.com, Autumn sale…">
          <button type="submit">Search</button></div></form>
        ${summary}${pager}${table}${pager}`,
      ),
    );
  })
  .get('/:id{[0-9]+}', async (c) => {
    const back = safeBack(c.req.query('back'));
    const backLink = `<p><a href="${escapeHtml(back)}">Back to the mailbox</a></p>`;
    const message = await c.var.services.mailbox.get(Number(c.req.param('id')));
    if (!message) return c.html(layout('Not found', `<p>There is no such message.</p>${backLink}`), 404);
    const parsed = await simpleParser(message.raw);
    const html = typeof parsed.html === 'string' ? parsed.html : `<pre>${escapeHtml(parsed.text ?? '')}</pre>`;
    const headers = [
      ['From', parsed.from?.text],
      ['To', Array.isArray(parsed.to) ? parsed.to.map((a) => a.text).join(', ') : parsed.to?.text],
      ['Subject', parsed.subject],
      ['Date', parsed.date?.toUTCString()],
      ['Message-ID', parsed.messageId],
      ['List-Unsubscribe', headerLine(parsed.headerLines, 'list-unsubscribe')],
      ['List-Unsubscribe-Post', headerLine(parsed.headerLines, 'list-unsubscribe-post')],
    ]
      .map(([name, value]) => (value ? `<dt>${escapeHtml(name!)}</dt><dd>${escapeHtml(value)}</dd>` : ''))
      .join('');
    return c.html(
      layout(
        parsed.subject ?? '(no subject)',
        `${backLink}<dl>${headers}</dl>
        <iframe title="Message" sandbox="allow-popups allow-popups-to-escape-sandbox" srcdoc="${escapeHtml(`<base target="_blank">${html}`)}"></iframe>
        <details><summary>Text part</summary><pre>${escapeHtml(parsed.text ?? '')}</pre></details>`,
      ),
    );
  });

/** Returns the address of a page of the list. */
function listUrl(search: string, before?: number, after?: number): string {
  const query = new URLSearchParams();
  if (search) query.set('q', search);
  if (before !== undefined) query.set('before', String(before));
  if (after !== undefined) query.set('after', String(after));
  const text = query.toString();
  return text ? `/mailbox?${text}` : '/mailbox';
}

/** Returns the list page to go back to: only a page of this mailbox, never another address. */
function safeBack(back: string | undefined): string {
  return back && /^\/mailbox(\?[^\s"<>]*)?$/.test(back) ? back : '/mailbox';
}

function headerLine(lines: readonly { key: string; line: string }[], key: string): string | undefined {
  return lines.find((h) => h.key === key)?.line.replace(/^[^:]+:\s*/, '');
}

/** The app's top bar, as plain links (this page is the server's, not the app's). */
const NAVIGATION = [
  ['/', 'Deliveries'],
  ['/audience', 'Audience'],
  ['/typologies', 'Typologies'],
  ['/settings', 'Settings'],
  ['/mailbox', 'Mailbox'],
] as const;

function layout(title: string, body: string): string {
  const links = NAVIGATION.map(
    ([href, label]) => `<a href="${href}"${href === '/mailbox' ? ' aria-current="page"' : ''}>${label}</a>`,
  ).join('');
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${escapeHtml(title)} · Mailroom mailbox</title><style>
body{font:15px/1.5 system-ui,-apple-system,'Segoe UI',sans-serif;margin:0;color:#1d2433;background:#f5f6f8}
header{display:flex;flex-wrap:wrap;align-items:center;gap:.4rem 1.5rem;padding:.7rem 1.5rem;background:#1d3557;color:#fff}
header a{color:#fff;text-decoration:none}.brand{font-weight:800;font-size:1.15rem}
header nav{display:flex;flex-wrap:wrap;gap:.3rem 1rem}header nav a[aria-current=page]{text-decoration:underline;text-underline-offset:4px}
main{max-width:72rem;margin:0 auto;padding:1.5rem}h1{margin-top:0}
.search{display:grid;gap:.3rem;margin-bottom:.8rem}.search label{font-weight:600}.search div{display:flex;gap:.4rem}
.search input{flex:1;min-width:0;font:inherit;padding:.4rem .5rem;border:1px solid #c9ced8;border-radius:6px;background:#fff}
button{font:inherit;padding:.4rem .9rem;border-radius:7px;border:1px solid #1d3557;background:#1d3557;color:#fff;cursor:pointer}
.pager{display:flex;justify-content:space-between;margin:.6rem 0}
table{border-collapse:collapse;width:100%;background:#fff}th,td{text-align:left;padding:.35rem .5rem;border-bottom:1px solid #e3e6ec;overflow-wrap:anywhere}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem}dt{font-weight:600}dd{margin:0;word-break:break-all}
iframe{width:100%;height:32rem;border:1px solid #c9ced8;border-radius:6px;background:#fff}pre{white-space:pre-wrap;overflow-wrap:anywhere}
@media (max-width:40rem){main{padding:1rem}header{padding:.4rem 1rem;gap:0 1.5rem}header nav{gap:0 1.1rem}
header nav a{display:inline-flex;align-items:center;min-height:2.5rem}button,.search input{min-height:2.5rem;box-sizing:border-box}
thead{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0)}table,tbody,tr,td{display:block}
tr{padding:.5rem .6rem;border-bottom:1px solid #e3e6ec}td{border:none;padding:.1rem 0}
td[data-label]:not([data-label=Subject])::before{content:attr(data-label) ": ";font-weight:600;color:#5b6475}
td[data-label=Subject]{font-weight:600}dl{grid-template-columns:1fr}dd{margin-bottom:.3rem}iframe{height:26rem}}
</style></head>
<body><header><a class="brand" href="/">Mailroom</a><nav aria-label="Main">${links}</nav></header>
<main><h1>${escapeHtml(title)}</h1>${body}</main></body></html>`;
}
