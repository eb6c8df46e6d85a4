/**
 * The mailbox page of the built-in sink: what recipients would have received, for the
 * operator to read. Messages render in a sandboxed iframe; their links open in a new tab,
 * so opening and clicking behave as in a mail client.
 */

import { Hono } from 'hono';
import { getCookie } from 'hono/cookie';
import { simpleParser } from 'mailparser';
import { escapeHtml } from '../../shared/template';
import { SESSION_COOKIE } from '../routes/session';
import type { AppEnv } from '../services';

export const mailboxPage = new Hono<AppEnv>()
  .use(async (c, next) => {
    const token = getCookie(c, SESSION_COOKIE);
    if (!token || !c.var.services.operators.sessionUser(token, c.var.services.now())) {
      return c.redirect(`/login?next=${encodeURIComponent(c.req.path)}`, 302);
    }
    await next();
  })
  .get('/', async (c) => {
    const { mailbox } = c.var.services;
    const messages = await Promise.all(
      mailbox.list(100).map(async (m) => {
        const parsed = await simpleParser(mailbox.get(m.id)!.raw, { skipHtmlToText: true, skipTextToHtml: true, skipImageLinks: true });
        return { ...m, subject: parsed.subject ?? '(no subject)' };
      }),
    );
    const rows = messages
      .map(
        (m) => `<tr><td><a href="/mailbox/${m.id}">${escapeHtml(m.subject)}</a></td><td>${escapeHtml(m.envelopeTo)}</td>
        <td>${escapeHtml(m.envelopeFrom)}</td><td><time datetime="${m.receivedAt}">${m.receivedAt.replace('T', ' ').slice(0, 19)}</time></td></tr>`,
      )
      .join('');
    return c.html(
      layout(
        'Mailbox',
        `<p>${mailbox.count()} messages received by the built-in SMTP sink; the newest 100 are listed.</p>
        <table><thead><tr><th>Subject</th><th>To</th><th>From</th><th>Received</th></tr></thead><tbody>${rows}</tbody></table>`,
      ),
    );
  })
  .get('/:id{[0-9]+}', async (c) => {
    const message = c.var.services.mailbox.get(Number(c.req.param('id')));
    if (!message) return c.html(layout('Not found', '<p>There is no such message. <a href="/mailbox">Back to the mailbox</a></p>'), 404);
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
        `<p><a href="/mailbox">Back to the mailbox</a></p><dl>${headers}</dl>
        <iframe title="Message" sandbox="allow-popups allow-popups-to-escape-sandbox" srcdoc="${escapeHtml(`<base target="_blank">${html}`)}"></iframe>
        <details><summary>Text part</summary><pre>${escapeHtml(parsed.text ?? '')}</pre></details>`,
      ),
    );
  });

function headerLine(lines: readonly { key: string; line: string }[], key: string): string | undefined {
  return lines.find((h) => h.key === key)?.line.replace(/^[^:]+:\s*/, '');
}

function layout(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${escapeHtml(title)} · Mailroom mailbox</title><style>
body{font:15px/1.5 system-ui,sans-serif;margin:2rem auto;max-width:60rem;padding:0 1rem;color:#1d2433}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.35rem .5rem;border-bottom:1px solid #e3e6ec}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem}dt{font-weight:600}dd{margin:0;word-break:break-all}
iframe{width:100%;height:32rem;border:1px solid #c9ced8;border-radius:6px}</style></head>
<body><h1>${escapeHtml(title)}</h1>${body}</body></html>`;
}
