import { describe, expect, it } from 'vitest';
import { compileMessage, derivedTextSource, extractLinks, htmlToText, recipientValues, renderMessage, tidyText } from './message';
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

describe('a preheader and a written text part', () => {
  const system = { unsubscribeUrl: 'https://x.test/u/1', sendAt };
  const render = (content: Parameters<typeof compileMessage>[0]) => {
    const compiled = compileMessage(content, schema);
    if (!compiled.ok) throw new Error(compiled.error.message);
    return {
      compiled: compiled.message,
      message: renderMessage(compiled.message, recipientValues(profile, compiled.message.profileFields), system),
    };
  };

  it('puts the preheader hidden first in the body, escaped, and shows it plain as the inbox line', () => {
    const { compiled, message } = render({
      subject: 'Hi',
      preheader: '  Hello {{ first_name }},\n 20% <off> & more  ',
      html: '<html><body class="x"><h1>Sale</h1></body></html>',
    });
    expect(compiled.profileFields).toEqual(['first_name']);
    expect(message.preheader).toBe('Hello Bram <b>, 20% <off> & more');
    expect(message.html).toMatch(
      /^<html><body class="x"><div style="display: none; max-height: 0; overflow: hidden; opacity: 0; mso-hide: all">Hello Bram &lt;b&gt;, 20% &lt;off&gt; &amp; more(&#8199;&#847;){80}<\/div><h1>Sale<\/h1>/,
    );
    // The text part is the body's, not the hidden line's.
    expect(message.text).toBe('Sale');
  });

  it('puts the preheader at the start of an HTML without a body tag, and adds nothing without one', () => {
    expect(render({ subject: 'Hi', preheader: 'Soon', html: '<p>Body</p>' }).message.html).toMatch(
      /^<div style="display: none[^>]*>Soon&#8199;/,
    );
    const none = render({ subject: 'Hi', preheader: '  ', html: '<p>Body</p>' });
    expect(none.compiled.preheader).toBeNull();
    expect(none.message).toMatchObject({ preheader: '', html: '<p>Body</p>' });
  });

  it('sends the text part as written, its Liquid rendered as text and tidied, in place of the derived one', () => {
    const { compiled, message } = render({
      subject: 'Hi',
      html: '<p>HTML {{ city }}</p>',
      text: 'Dear {{ first_name }},\n\n\n\nOur interests: {{ interests | join: ", " }}   \n',
    });
    expect(compiled.profileFields).toEqual(['city', 'first_name', 'interests']);
    expect(message.text).toBe('Dear Bram <b>,\n\nOur interests: a, b');
  });

  it('says the preheader or the text part has a syntax error, at its line', () => {
    expect(compileMessage({ subject: 'Hi', preheader: '{{ x ', html: '<p></p>' })).toMatchObject({ ok: false, part: 'preheader' });
    expect(compileMessage({ subject: 'Hi', html: '<p></p>', text: 'a\n{% if %}' })).toMatchObject({
      ok: false,
      part: 'text',
      error: { line: 2 },
    });
  });

  it('starts a written text part from the derived one, with its Liquid kept', () => {
    expect(derivedTextSource('<h1>Hi {{ first_name }}</h1><p><a href="https://a.test/">Shop</a> now</p>')).toBe(
      'Hi {{ first_name }}\n\nShop (https://a.test/) now',
    );
  });
});

describe('htmlToText', () => {
  it.each([
    [
      'blocks as lines, paragraphs apart',
      '<p>A &amp; B</p><p>C<br>D</p><ul><li>one</li><li>two</li></ul>',
      'A & B\n\nC\nD\n\n- one\n- two',
    ],
    [
      'every entity decoded',
      '<p>Caf&eacute; &rsquo;t &euro;5 &#8217; &#x2019; &hellip; &copy; &lt;b&gt; &quot;x&quot;</p>',
      'Café ’t €5 ’ ’ … © <b> "x"',
    ],
    ['a no-break space as a space', '<p>10&nbsp;%&nbsp;&nbsp;off</p><table><tr><td>&nbsp;</td></tr></table>', '10 % off'],
    [
      'links as "text (url)", the URL alone when it is the text',
      '<a href="https://x.example/a">See this</a> or <a href="https://x.example">https://x.example</a>',
      'See this (https://x.example/a) or https://x.example',
    ],
    [
      "images by their alt text, also as a link's text",
      '<img src="https://x.example/logo.png" alt="Mailroom shop"><a href="https://x.example/sale"><img src="https://x.example/b.png" alt="Sale"></a><img src="https://x.example/pixel.gif">',
      'Mailroom shop Sale (https://x.example/sale)'.replace(' Sale', 'Sale'),
    ],
    ['headings as written', '<h1>Hello Anna,</h1><h2>Our autumn</h2>', 'Hello Anna,\n\nOur autumn'],
    [
      'layout tables one cell to a line',
      '<table><tr><td>Coats</td><td>Boots</td></tr><tr><td>Hats</td></tr></table>',
      'Coats\nBoots\nHats',
    ],
    [
      'no head, style or script',
      '<html><head><title>T</title><style>p{}</style></head><body><script>x()</script><p>Body</p></body></html>',
      'Body',
    ],
    ['mailto links by their address', '<a href="mailto:help@shop.example">Write to us</a>', 'Write to us (help@shop.example)'],
  ])('%s', (_, html, text) => {
    expect(htmlToText(html)).toBe(text);
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

  it.each([
    ['an image source', '<p>Hi</p><img alt="Logo" src="https://x.example/{{ first_name }}.png">', 'Hi\n\nLogo'],
    [
      'a style and the title',
      '<head><title>{{ first_name }}</title><style>p { color: {{ city | default: "red" }} }</style></head><p>Hi {{ first_name }}</p>',
      'Hi Anna',
    ],
    [
      'a link whose text is its URL',
      '<p>Go to <a href="https://x.example/{{ first_name }}">https://x.example/{{ first_name }}</a></p>',
      'Go to https://x.example/Anna',
    ],
    ['an anchor link', '<p><a href="#{{ first_name }}">Top</a> {{ first_name }}</p>', 'Top Anna'],
  ])('is rendered from a text template when an output sits where no text part shows it (%s)', (_, html, text) => {
    const compiled = compileMessage({ subject: 'Hi', html }, schema);
    if (!compiled.ok) throw new Error('compile');
    expect(compiled.message.text).not.toBeNull();
    const message = renderMessage(compiled.message, { first_name: 'Anna' }, { unsubscribeUrl: 'https://u.example/1', sendAt });
    expect(message.text).toBe(text);
    expect(message.text).toBe(htmlToText(message.html));
  });

  it.each([
    ['an image source', '<p>Hi</p><img alt="Logo" src="https://x.example/{% if first_name %}a{% else %}b{% endif %}.png">', 'Hi\n\nLogo'],
    ['a style', '<style>{% if city %}p { color: red }{% endif %}</style><p>Hi {{ first_name }}</p>', 'Hi Anna'],
  ])('is derived from each HTML when a tag sits where the text would lose it (%s)', (_, html, text) => {
    const lossy = compileMessage({ subject: 'Hi', html }, schema);
    if (!lossy.ok) throw new Error('compile');
    expect(lossy.message.text).toBeNull();
    const message = renderMessage(lossy.message, { first_name: 'Anna' }, { unsubscribeUrl: 'https://u.example/1', sendAt });
    expect(message.text).toBe(text);
    expect(message.text).toBe(htmlToText(message.html));
  });

  it("keeps Liquid in an image's alt text in the text template", () => {
    const withAlt = compileMessage(
      { subject: 'Hi', html: '<p>Hi</p><img alt="A gift for {{ first_name }}" src="https://x.example/a.png">' },
      schema,
    );
    if (!withAlt.ok) throw new Error('compile');
    expect(withAlt.message.text).not.toBeNull();
    const message = renderMessage(withAlt.message, { first_name: 'Anna' }, { unsubscribeUrl: 'https://u.example/1', sendAt });
    expect(message.text).toBe('Hi\n\nA gift for Anna');
    expect(message.text).toBe(htmlToText(message.html));
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

describe('the text part of a campaign laid out as emails are', () => {
  const html = `<!doctype html>{% assign greeting = "Hello" %}<html><head><title>Autumn</title>
    <style>td { padding: 0 }</style></head>
    <body><table role="presentation" width="100%"><tr><td align="center">
      <a href="https://shop.example.com"><img src="https://shop.example.com/logo.png" alt="Mailroom Shop"></a>
    </td></tr><tr><td>
      <h1>{{ greeting }} {{ first_name | default: "there" }},</h1>
      <p>Our autumn collection&nbsp;has arrived{% if city %} in {{ city }}{% endif %} &mdash; &euro;&nbsp;20 off.</p>
      {% if vip %}<p>As a VIP you get <strong>early access</strong>.</p>{% endif %}
      <ul>{% for t in interests %}<li>{{ t | capitalize }}</li>{% endfor %}</ul>
      <p><a href="https://shop.example.com/autumn?utm=mail&amp;id=1"><img src="https://shop.example.com/b.png" alt="See the {{ city | default: 'whole' }} collection"></a></p>
    </td></tr><tr><td style="font-size:12px">You receive this email because you subscribed.
      <a href="{{ unsubscribe_url }}">Unsubscribe</a></td></tr></table></body></html>`;
  const compiled = compileMessage({ subject: 'Hi', html }, [...schema, { name: 'vip', label: 'VIP', type: 'boolean' as const }]);
  if (!compiled.ok) throw new Error('compile');

  it.each([
    ['everything', { first_name: 'Zoë', city: 'Gent', vip: true, interests: ['coats', 'boots'] }],
    ['nothing', {}],
    ['markup in a value', { first_name: 'Tom & <Jerry>', city: 'A "B"', interests: ['x'] }],
  ])('is rendered from its text template and reads as the text derived from the HTML (%s)', (_, values) => {
    expect(compiled.message.text).not.toBeNull();
    const message = renderMessage(compiled.message, values, { unsubscribeUrl: 'https://u.example/1', sendAt });
    expect(message.text).toBe(htmlToText(message.html));
  });

  it('reads as a person would read it', () => {
    const values = { first_name: 'Zoë', city: 'Gent', vip: true, interests: ['coats', 'boots'] };
    expect(renderMessage(compiled.message, values, { unsubscribeUrl: 'https://u.example/1', sendAt }).text).toBe(
      [
        'Mailroom Shop (https://shop.example.com)',
        '',
        'Hello Zoë,',
        '',
        'Our autumn collection has arrived in Gent — € 20 off.',
        '',
        'As a VIP you get early access.',
        '',
        '- Coats',
        '- Boots',
        '',
        'See the Gent collection (https://shop.example.com/autumn?utm=mail&id=1)',
        '',
        'You receive this email because you subscribed. Unsubscribe (https://u.example/1)',
      ].join('\n'),
    );
  });
});

describe('tidyText', () => {
  /** The four replacements tidyText is defined by, run on every text (it skips them when one search finds nothing to do). */
  const reference = (text: string) =>
    text
      .replace(/^[ \t]+(?:\n|$)/gm, '')
      .replace(/[ \t]+$/gm, '')
      .replace(/(\S)[ \t]{2,}/g, '$1 ')
      .replace(/\n{3,}/g, '\n\n')
      .trim();

  it('gives what the four replacements give, for any text of spaces, tabs, line ends and words', () => {
    // Every kind of line end and space a text can hold, JavaScript's own (\u2028, \u00a0) included.
    const alphabet = [' ', '\t', '\n', '\r', '\u2028', '\u00a0', 'a', 'b', '\n\n\n'];
    let seed = 12345;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    let untidy = 0;
    for (let i = 0; i < 50_000; i++) {
      let text = '';
      for (let n = Math.floor(random() * 16); n > 0; n--) text += alphabet[Math.floor(random() * alphabet.length)];
      expect(tidyText(text), JSON.stringify(text)).toBe(reference(text));
      if (reference(text) !== text.trim()) untidy++;
    }
    // Both branches were taken, many times.
    expect(untidy).toBeGreaterThan(10_000);
    expect(untidy).toBeLessThan(45_000);
  });

  it('tidies what a value brought into a rendered text part', () => {
    expect(tidyText('Hello   Anna  \n  \n\n\n\nBye')).toBe('Hello Anna\n\nBye');
    expect(tidyText('Hello Anna\nBye')).toBe('Hello Anna\nBye');
  });
});
