/**
 * `npm run bench:render`: the shared renderer, which preparation runs once per recipient.
 * A 10 KB HTML template with 6 personalization fields, rendered for 200,000 generated
 * recipients (subject, HTML and text part), as the server does when sending.
 */

import { compileMessage, recipientValues, renderMessage } from '../shared/message';
import { PREVIEW_UNSUBSCRIBE_URL } from '../shared/preparation';
import { demoAudience } from '../server/seed';
import { makeProfile } from '../shared/test-profile';
import { figure, machineLine } from './machine';

const RECIPIENTS = 200_000;
const block = `<tr><td style="padding:12px;font-family:Arial,sans-serif;font-size:15px;color:#333">
  Our autumn collection is in the shops{% if city %} of {{ city }}{% endif %}: coats, scarves and boots, hand-picked for you.
  <a href="https://shop.example.com/autumn?utm_source=mail">See the collection</a></td></tr>\n`;
let html = `<html><body><h1>Hello {{ first_name | default: "there" }} {{ last_name }},</h1><table>`;
while (html.length < 10_000) html += block;
html += `<p>Sent to {{ email }} ({{ locale }}). <a href="{{ unsubscribe_url }}">Unsubscribe</a></p></body></html>`;

const compiled = compileMessage({ subject: 'Hello {{ first_name | default: "there" }}, autumn in {{ city }}', html }, [
  { name: 'city', label: 'City', type: 'text' },
]);
if (!compiled.ok) throw new Error(compiled.error.message);
const profiles = demoAudience(10_000).profiles.map((p, i) => makeProfile({ ...p, id: i + 1 }));

const started = process.hrtime.bigint();
const cpuStart = process.cpuUsage();
let bytes = 0;
for (let i = 0; i < RECIPIENTS; i++) {
  const values = recipientValues(profiles[i % profiles.length], compiled.message.profileFields);
  const message = renderMessage(compiled.message, values, { unsubscribeUrl: PREVIEW_UNSUBSCRIBE_URL });
  bytes += message.html.length + message.text.length;
}
const seconds = Number(process.hrtime.bigint() - started) / 1e9;
const cpu = process.cpuUsage(cpuStart);

console.log(machineLine());
console.log(
  `template: ${html.length} characters, ${compiled.message.profileFields.length} profile fields, ${RECIPIENTS.toLocaleString('en-US')} recipients`,
);
figure('render rate', RECIPIENTS / seconds, 'messages/s', 'none yet; preparation of 1,000,000 profiles in ≤ 2 s is set in bench:prepare');
figure('render CPU', (cpu.user + cpu.system) / 1000 / RECIPIENTS, 'ms CPU per message', 'none yet');
figure('rendered', bytes / seconds / 2 ** 20, 'MiB/s of HTML and text', 'none yet');
