import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { OutgoingMessage } from '../sending/compose';
import { createKit, recordingMessenger, type Kit } from '../test-kit';

let kit: Kit;
let sent: OutgoingMessage[];
beforeEach(async () => {
  const recorder = recordingMessenger((message) =>
    message.to === 'bounce@example.com' ? { kind: 'failed', reply: '550 5.1.1 unknown' } : undefined,
  );
  sent = recorder.sent;
  kit = await createKit({ messenger: recorder.messenger });
});
afterEach(() => kit.close());

const body = {
  fromName: 'Shop',
  fromAddress: 'news@shop.example.com',
  subject: 'Hello {{ first_name | default: "there" }}',
  html: '<p>Hi {{ first_name }} from {{ city }}</p><a href="{{ unsubscribe_url }}">unsubscribe</a>',
  to: ['Me@Example.com', 'colleague@example.com'],
  recipients: [
    { email: 'anna@example.com', values: { first_name: 'Anna <3', city: 'Gent' } },
    { email: 'bram@example.com', values: { first_name: '', city: 'Leiden' } },
  ],
};

describe('proofs', () => {
  it('sends the message as each chosen recipient would read it to every test address, marked [Proof]', async () => {
    const response = await kit.request('/api/proofs', { json: body });
    expect(await response.json()).toEqual({ sent: 4, failed: [] });
    expect(sent.map((m) => [m.to, m.subject])).toEqual([
      ['me@example.com', '[Proof] Hello Anna <3'],
      ['colleague@example.com', '[Proof] Hello Anna <3'],
      ['me@example.com', '[Proof] Hello there'],
      ['colleague@example.com', '[Proof] Hello there'],
    ]);
    expect(sent[0].html).toContain('<p>Hi Anna &lt;3 from Gent</p>');
    expect(sent[0].html).toContain('href="https://unsubscribe.invalid/proof"');
    expect(sent[0].headers['X-Mailroom-Proof']).toBe('as received by anna@example.com');
    // A proof is no delivery: nothing in the journal, no tracking.
    expect(await kit.value('SELECT COUNT(*) FROM journal')).toBe(0);
    expect(sent[0].html).not.toContain('/t/o/');
  });

  it('renders typed values as Liquid does: false is false, numbers compare, tags loop, dates in the profile language', async () => {
    const typed = {
      ...body,
      subject: '{% if vip %}VIP{% else %}Member{% endif %} {{ first_name }}',
      html: '<p>{% for t in interests %}{{ t | capitalize }}{% unless forloop.last %}, {% endunless %}{% endfor %}{% if loyalty_points > 1000 %} gold{% endif %} {{ birth_date | date: "%-d %B" }}{{ city | default: "" }}</p><a href="{{ unsubscribe_url }}">u</a>',
      to: ['me@example.com'],
      recipients: [
        {
          email: 'anna@example.com',
          values: {
            first_name: 'Anna',
            vip: false,
            loyalty_points: 1200,
            interests: ['shoes', 'sale'],
            birth_date: '1990-01-17',
            locale: 'nl',
            city: null,
          },
        },
      ],
    };
    const response = await kit.request('/api/proofs', { json: typed });
    expect(await response.json()).toEqual({ sent: 1, failed: [] });
    expect(sent[0].subject).toBe('[Proof] Member Anna');
    expect(sent[0].html).toContain('<p>Shoes, Sale gold 17 januari</p>');
  });

  it('refuses a value of a type no profile has', async () => {
    const json = { ...body, recipients: [{ email: 'anna@example.com', values: { first_name: { nested: 'object' } } }] };
    const response = await kit.request('/api/proofs', { json });
    expect(response.status).toBe(400);
    expect(sent).toHaveLength(0);
  });

  it('reports the test addresses the relay refused', async () => {
    const response = await kit.request('/api/proofs', { json: { ...body, to: ['bounce@example.com'], recipients: [body.recipients[0]] } });
    expect(await response.json()).toEqual({
      sent: 0,
      failed: [{ to: 'bounce@example.com', as: 'anna@example.com', reply: '550 5.1.1 unknown' }],
    });
  });

  it.each([
    ['an invalid test address', { ...body, to: ['not an address'] }, 400, /to\.0: a valid email address/],
    ['no test address', { ...body, to: [] }, 400, /to/],
    ['a template error', { ...body, html: '<p>{{ first_name </p>' }, 422, /The HTML body has an error at line 1, column 4/],
  ])('refuses %s, saying what is wrong', async (_, json, status, message) => {
    const response = await kit.request('/api/proofs', { json });
    expect(response.status).toBe(status);
    expect((await response.json()).message).toMatch(message);
    expect(sent).toHaveLength(0);
  });

  it('needs a signed-in operator', async () => {
    const response = await kit.app.request('/api/proofs', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    expect(response.status).toBe(401);
  });
});
