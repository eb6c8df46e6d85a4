import { describe, expect, it } from 'vitest';
import { compileMessage, extractLinks, htmlToText, recipientValues, renderMessage } from './message';
import { makeProfile } from './test-profile';

const profile = makeProfile({
  id: 7,
  email: 'bram@example.com',
  firstName: 'Bram <b>',
  lastName: 'Jansen',
  locale: 'nl',
  attributes: { city: '', interests: ['a', 'b'] },
});
const sendAt = new Date('2026-11-28T10:00:00Z');
const schema = [
  { name: 'city', label: 'City', type: 'text' as const },
  { name: 'interests', label: 'Interests', type: 'tags' as const },
];

describe('compileMessage and renderMessage', () => {
  it('carries only the fields the message reads', () => {
    const compiled = compileMessage(
      { subject: 'Hi {{ first_name }}', html: '<p>{{ city | default: "x" }} {{ interests }} {{ shoe_size }} {{ unsubscribe_url }}</p>' },
      schema,
    );
    expect(compiled.ok).toBe(true);
    if (!compiled.ok) return;
    expect(compiled.message.profileFields).toEqual(['first_name', 'city', 'interests']);
    // Typed, and a field without a value (empty text) is left out: nil.
    expect(recipientValues(profile, compiled.message.profileFields)).toEqual({ first_name: 'Bram <b>', interests: ['a', 'b'] });
  });

  it('carries a field the template assigns when it may read it first, and the locale for dates', () => {
    const compiled = compileMessage(
      {
        subject: '{% assign first_name = first_name | capitalize %}Hi {{ first_name }}',
        html: '<p>{% assign total = 1 %}{{ total }} {{ "now" | date: "%B" }}</p>',
      },
      schema,
    );
    expect(compiled.ok && compiled.message.profileFields).toEqual(['first_name', 'locale']);
  });

  it('renders "now" as the send time it is given', () => {
    const compiled = compileMessage({ subject: '{{ "now" | date: "%-d %B" }}', html: '<p>{{ "today" | date: "%A" }}</p>' });
    if (!compiled.ok) throw new Error('compile');
    const message = renderMessage(
      compiled.message,
      { locale: 'fr' },
      { unsubscribeUrl: 'https://u.example/1', sendAt: new Date('2026-07-14T09:00:00Z') },
    );
    expect([message.subject, message.html, message.text]).toEqual(['14 juillet', '<p>mardi</p>', 'mardi']);
  });

  it('renders subject on one line, HTML escaped, and a text part', () => {
    const compiled = compileMessage({
      subject: 'Hi {{ first_name }}',
      html: '<h1>Hi {{ first_name }}</h1><p>See <a href="https://x.example/a">this</a></p><a href="{{ unsubscribe_url }}">Unsubscribe</a>',
    });
    if (!compiled.ok) throw new Error('compile');
    const message = renderMessage(compiled.message, { first_name: 'Bram\n<b>' }, { unsubscribeUrl: 'https://u.example/1', sendAt });
    expect(message.subject).toBe('Hi Bram <b>');
    expect(message.html).toContain('<h1>Hi Bram\n&lt;b&gt;</h1>');
    expect(message.html).toContain('href="https://u.example/1"');
    expect(message.text).toContain('See this (https://x.example/a)');
    expect(message.text).toContain('Unsubscribe (https://u.example/1)');
  });

  it('says which part has a syntax error', () => {
    const compiled = compileMessage({ subject: 'ok', html: '<p>{{ oops</p>' });
    expect(compiled).toMatchObject({ ok: false, part: 'html', error: { line: 1, column: 4 } });
  });
});

describe('htmlToText', () => {
  it('turns blocks into lines and decodes entities', () => {
    expect(htmlToText('<style>p{}</style><p>A &amp; B</p><p>C<br>D</p><ul><li>one</li><li>two</li></ul>')).toBe(
      'A & B\nC\nD\n- one\n- two',
    );
  });
});

describe('extractLinks', () => {
  it('lists each link once', () => {
    expect(
      extractLinks(`<a href="https://a.example">1</a><a class="x" href='https://b.example'>2</a><a href="https://a.example">3</a>`),
    ).toEqual(['https://a.example', 'https://b.example']);
  });
});

describe('the text part', () => {
  const html = `<html><body><h1>Hello {{ first_name | default: "there" }},</h1>
    <p>Our collection{% if city %} in {{ city }}{% endif %} &amp; more.</p>
    <ul><li>Coats</li><li>Boots</li></ul>
    <p><a href="https://shop.example.com/autumn">See the collection</a> · <a href="{{ unsubscribe_url }}">Unsubscribe</a></p>
  </body></html>`;
  const compiled = compileMessage({ subject: 'Hi', html }, schema);
  if (!compiled.ok) throw new Error('compile');

  it.each([
    ['a plain name', { first_name: 'Anna', city: 'Gent' }],
    ['markup and entities in a value, no city (nil, as prepared)', { first_name: 'Tom & <Jerry>' }],
    ['an empty value', { first_name: '', city: 'Leiden' }],
  ])('is rendered from a text template, reading as the text derived from the HTML (%s)', (_, values) => {
    expect(compiled.message.text).not.toBeNull();
    const message = renderMessage(compiled.message, values, { unsubscribeUrl: 'https://u.example/1', sendAt });
    expect(message.text).toBe(htmlToText(message.html));
  });

  it('is derived from each HTML when Liquid holds a field the text would lose', () => {
    const withAlt = compileMessage({ subject: 'Hi', html: '<p>Hi</p><img alt="{{ first_name }}" src="https://x.example/a.png">' }, schema);
    if (!withAlt.ok) throw new Error('compile');
    expect(withAlt.message.text).toBeNull();
    expect(renderMessage(withAlt.message, { first_name: 'Anna' }, { unsubscribeUrl: 'https://u.example/1', sendAt }).text).toBe('Hi');
  });
});

describe('the text part of richer Liquid', () => {
  const html = `<p>{% if loyalty_points < 100 %}Few points{% else %}{{ loyalty_points }} points{% endif %}</p>
    <ul>{% for t in interests %}<li>{{ t | capitalize }}</li>{% endfor %}</ul><a href="{{ unsubscribe_url }}">Unsubscribe</a>`;
  const compiled = compileMessage({ subject: 'Hi', html }, [
    ...schema,
    { name: 'loyalty_points', label: 'Points', type: 'number' as const },
  ]);
  if (!compiled.ok) throw new Error('compile');

  it.each([
    ['few points, no interests', { loyalty_points: 20, interests: [] }],
    ['many points, two interests', { loyalty_points: 2500, interests: ['shoes', 'sale'] }],
    ['no values', {}],
  ])('is rendered from a text template even with "<" in a tag (%s)', (_, values) => {
    expect(compiled.message.text).not.toBeNull();
    const message = renderMessage(compiled.message, values, { unsubscribeUrl: 'https://u.example/1', sendAt });
    expect(message.text).toBe(htmlToText(message.html));
  });
});
