/** The message the sending benchmarks send, and what they read of the processes they measure. */

import { readFileSync } from 'node:fs';
import type { OutgoingMessage } from '../server/sending/compose';
import { htmlToText } from '../shared/message';

/**
 * Returns a ~9.5 KB campaign: a greeting, a table of blocks each with a link, an unsubscribe
 * link. bench:send gives it Liquid (the template); bench:smtp gives it values and tracked
 * URLs (a message as the engine composes it).
 */
export function campaignHtml(parts: { greeting: string; city: string; link: string; unsubscribe: string }): string {
  const block = `<tr><td style="padding:12px;font-family:Arial,sans-serif;font-size:15px;color:#333">
  Our autumn collection is in the shops: coats, scarves and boots, hand-picked for you.
  <a href="${parts.link}">See the collection</a></td></tr>\n`;
  let html = `<html><body><h1>Hello ${parts.greeting},</h1><p>Shop in ${parts.city}.</p><table>`;
  while (html.length < 9_300) html += block;
  return html + `</table><p><a href="${parts.unsubscribe}">Unsubscribe</a></p></body></html>`;
}

/** Returns the n-th recipient's message of a campaign as compose.ts hands it to the pool: the HTML as given, its text part derived. */
export function composedMessage(n: number, html: string, text = htmlToText(html)): OutgoingMessage {
  return {
    from: { name: 'Shop', address: 'news@shop.example.com' },
    to: `reader.${n}@example.com`,
    subject: `Hello Reader${n % 1000}`,
    html,
    text,
    messageId: `<${n}.bench@shop.example.com>`,
    headers: {
      'List-Unsubscribe': `<https://mail.example.com/u/dS5iZW5jaC4${n}>, <mailto:unsubscribe@shop.example.com?subject=unsubscribe-${n}>`,
      'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click',
      'X-Mailroom-Delivery': 'bench',
    },
  };
}

/** CPU seconds a process has used (user + system), from /proc (Linux; clock ticks of 1/100 s). Throws when it has ended. */
export function processCpuSeconds(pid: number | string): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}
