/**
 * `npm run bench:render`: the shared renderer, which the server runs once per message sent.
 *
 * 1. The message: a 10 KB HTML template with 6 personalization fields, rendered for 200,000
 *    generated recipients (subject, HTML and text part), as the server does when sending.
 * 2. Liquid: a 10 KB template with conditions (if/elsif/else, unless), a loop over tags and
 *    five filters, rendered in HTML by Mailroom and by liquidjs (`renderSync` on a parsed
 *    template, `outputEscape: 'escape'`), side by side, from the same typed values.
 */

import { Liquid } from 'liquidjs';
import { compileMessage, recipientValues, renderMessage } from '../shared/message';
import { PREVIEW_UNSUBSCRIBE_URL } from '../shared/preparation';
import { compileTemplate } from '../shared/template';
import { demoAudience, DEMO_SCHEMA } from '../server/seed';
import { makeProfile } from '../shared/test-profile';
import { figure, machineLine } from './machine';

const RECIPIENTS = 200_000;
const sendAt = new Date('2026-11-28T10:00:00Z');
const profiles = demoAudience(10_000).profiles.map((p, i) => makeProfile({ ...p, id: i + 1 }));

// 1. The message, as sent.
const block = `<tr><td style="padding:12px;font-family:Arial,sans-serif;font-size:15px;color:#333">
  Our autumn collection is in the shops{% if city %} of {{ city }}{% endif %}: coats, scarves and boots, hand-picked for you.
  <a href="https://shop.example.com/autumn?utm_source=mail">See the collection</a></td></tr>\n`;
let html = `<html><body><h1>Hello {{ first_name | default: "there" }} {{ last_name }},</h1><table>`;
while (html.length < 10_000) html += block;
html += `<p>Sent to {{ email }} ({{ locale }}). <a href="{{ unsubscribe_url }}">Unsubscribe</a></p></body></html>`;

const compiled = compileMessage({ subject: 'Hello {{ first_name | default: "there" }}, autumn in {{ city }}', html }, DEMO_SCHEMA);
if (!compiled.ok) throw new Error(compiled.error.message);
const recipients = profiles.map((p) => recipientValues(p, compiled.message.profileFields));

const started = process.hrtime.bigint();
const cpuStart = process.cpuUsage();
let bytes = 0;
for (let i = 0; i < RECIPIENTS; i++) {
  const message = renderMessage(compiled.message, recipients[i % recipients.length], { unsubscribeUrl: PREVIEW_UNSUBSCRIBE_URL, sendAt });
  bytes += message.html.length + message.text.length;
}
const seconds = Number(process.hrtime.bigint() - started) / 1e9;
const cpu = process.cpuUsage(cpuStart);

console.log(machineLine());
console.log(
  `message: ${html.length} characters, ${compiled.message.profileFields.length} profile fields, ${RECIPIENTS.toLocaleString('en-US')} recipients`,
);
figure('render rate', RECIPIENTS / seconds, 'messages/s', 'none yet; preparation of 1,000,000 profiles in ≤ 2 s is set in bench:prepare');
figure('render CPU', (cpu.user + cpu.system) / 1000 / RECIPIENTS, 'ms CPU per message', 'none yet');
figure('rendered', bytes / seconds / 2 ** 20, 'MiB/s of HTML and text', 'none yet');

// 2. Liquid: Mailroom and liquidjs on one template.
const liquidBlock = `<tr><td style="padding:12px;font-family:Arial,sans-serif;font-size:15px;color:#333">
  {% if vip %}<strong>VIP</strong>{% elsif loyalty_points > 2500 %}Gold member{% else %}Member{% endif %} —
  our autumn collection is in the shops{% if city %} of {{ city | upcase }}{% endif %}, hand-picked for {{ first_name | default: "you" }}.
  {% unless interests == empty %}For you: {% for tag in interests limit: 3 %}{{ tag | capitalize }}{% unless forloop.last %}, {% endunless %}{% endfor %}.{% endunless %}
  Your points: {{ loyalty_points | times: 1.1 | round }}. {{ last_name | truncate: 12 }}
  <a href="https://shop.example.com/autumn?utm_source=mail">See the collection</a></td></tr>\n`;
let liquidHtml = `<html><body><h1>Hello {{ first_name | default: "there" }} {{ last_name }},</h1><table>`;
while (liquidHtml.length < 10_000) liquidHtml += liquidBlock;
liquidHtml += `</table></body></html>`;

const ours = compileTemplate(liquidHtml);
if (!ours.ok) throw new Error(ours.error.message);
const engine = new Liquid({ outputEscape: 'escape', timezoneOffset: 0 });
const parsed = engine.parse(liquidHtml);
const values = profiles.map((p) => recipientValues(p, ['first_name', 'last_name', 'city', 'vip', 'loyalty_points', 'interests']));
// The same template and values give the same bytes (no value here holds a double quote).
for (const v of values.slice(0, 200)) {
  if (ours.template.render(v, 'html', sendAt) !== engine.renderSync(parsed, v))
    throw new Error('Mailroom and liquidjs disagree on the bench template');
}

function rate(render: (v: (typeof values)[number]) => string, count: number): number {
  const start = process.hrtime.bigint();
  let length = 0;
  for (let i = 0; i < count; i++) length += render(values[i % values.length]).length;
  if (length === 0) throw new Error('nothing rendered');
  return count / (Number(process.hrtime.bigint() - start) / 1e9);
}
// Rounds alternate between the two, and each keeps its best: a busy machine slows both alike.
let mailroom = 0;
let reference = 0;
for (let round = 0; round < 6; round++) {
  mailroom = Math.max(
    mailroom,
    rate((v) => ours.template.render(v, 'html', sendAt), 40_000),
  );
  reference = Math.max(
    reference,
    rate((v) => engine.renderSync(parsed, v), 4_000),
  );
}

console.log(`liquid: ${liquidHtml.length} characters with conditions, a loop over tags and five filters, HTML`);
figure('liquid render, Mailroom', mailroom, 'renders/s', `≥ 10 × liquidjs = ${Math.round(reference * 10).toLocaleString('en-US')}`);
figure('liquid render, liquidjs', reference, 'renders/s', 'reference');
figure('liquid speed-up', mailroom / reference, '× liquidjs', '≥ 10');
