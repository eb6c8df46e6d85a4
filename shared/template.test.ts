import { describe, expect, it } from 'vitest';
import { compileTemplate, escapeHtml, oneLine, type RenderMode } from './template';
import type { TemplateValue } from './types';

const SEND_AT = Date.UTC(2026, 10, 28, 10, 0, 0);

function render(source: string, values: Record<string, TemplateValue | undefined> = {}, mode: RenderMode = 'html'): string {
  const result = compileTemplate(source);
  if (!result.ok) throw new Error(`unexpected error: ${result.error.message}`);
  return result.template.render(values, mode, SEND_AT);
}

function error(source: string) {
  const result = compileTemplate(source);
  if (result.ok) throw new Error(`expected an error for ${source}`);
  return result.error;
}

describe('compileTemplate: rendering typed values as Liquid does', () => {
  it.each<[string, string, Record<string, TemplateValue>, string]>([
    ['plain text', 'Hello', {}, 'Hello'],
    ['a field', 'Hi {{ first_name }}!', { first_name: 'Anna' }, 'Hi Anna!'],
    ['a missing field is empty', 'Hi {{ first_name }}.', {}, 'Hi .'],
    ['default for missing', '{{ first_name | default: "there" }}', {}, 'there'],
    ['default for empty text', '{{ first_name | default: "there" }}', { first_name: '' }, 'there'],
    ['default keeps blank text (as Liquid)', '[{{ first_name | default: "there" }}]', { first_name: '  ' }, '[  ]'],
    [
      'default for false, unless allow_false',
      '{{ vip | default: "no" }} {{ vip | default: "no", allow_false: true }}',
      { vip: false },
      'no false',
    ],
    ['a boolean false is false', '{% if vip %}VIP{% else %}regular{% endif %}', { vip: false }, 'regular'],
    ['a boolean true is true', '{% if vip %}VIP{% else %}regular{% endif %}', { vip: true }, 'VIP'],
    ['0 and "" are true in Liquid', '{% if n %}a{% endif %}{% if s %}b{% endif %}', { n: 0, s: '' }, 'ab'],
    ['numbers compare as numbers', '{% if points > 999 %}gold{% endif %}', { points: 1000 }, 'gold'],
    [
      'tags: contains, size, first, join',
      '{% if interests contains "sale" %}{{ interests.size }} {{ interests | first }} {{ interests | join: ", " }}{% endif %}',
      { interests: ['shoes', 'sale'] },
      '2 shoes shoes, sale',
    ],
    ['text contains', '{% if email contains "@gmail" %}g{% endif %}', { email: 'a@gmail.com' }, 'g'],
    ['and/or from the right', '{% if false and false or true %}y{% else %}n{% endif %}', {}, 'n'],
    ['elsif', '{% if a == 1 %}one{% elsif a == 2 %}two{% else %}many{% endif %}', { a: 2 }, 'two'],
    ['unless', '{% unless city %}no city{% endunless %}', {}, 'no city'],
    [
      'case/when with several values',
      '{% case locale %}{% when "nl", "be" %}Hallo{% when "de" or "at" %}Hallo!{% else %}Hello{% endcase %}',
      { locale: 'at' },
      'Hallo!',
    ],
    [
      'for with forloop',
      '{% for t in interests %}{{ forloop.index }}/{{ forloop.length }} {{ t }}{% unless forloop.last %}, {% endunless %}{% endfor %}',
      { interests: ['a', 'b'] },
      '1/2 a, 2/2 b',
    ],
    ['for limit offset reversed', '{% for i in (1..6) offset: 1 limit: 3 reversed %}{{ i }}{% endfor %}', {}, '432'],
    ['for else on an empty list', '{% for t in interests %}{{ t }}{% else %}none{% endfor %}', { interests: [] }, 'none'],
    [
      'break and continue',
      '{% for i in (1..9) %}{% if i == 2 %}{% continue %}{% endif %}{% if i == 4 %}{% break %}{% endif %}{{ i }}{% endfor %}',
      {},
      '13',
    ],
    ['cycle', '{% for i in (1..3) %}{% cycle "odd", "even" %}{% endfor %}', {}, 'oddevenodd'],
    [
      'assign and capture',
      '{% assign n = points | plus: 1 %}{% capture msg %}{{ n }} points{% endcapture %}{{ msg | upcase }}',
      { points: 9 },
      '10 POINTS',
    ],
    [
      'assign from the field it shadows',
      '{% assign first_name = first_name | capitalize %}{{ first_name }}',
      { first_name: 'aNNA' },
      'Anna',
    ],
    ['increment and decrement', '{% increment n %}{% increment n %}{% decrement m %}{{ n }}', {}, '01-12'],
    ['raw, comments', '{% raw %}{{ not liquid }}{% endraw %}{% comment %}gone{% endcomment %}{% # gone too %}x', {}, '{{ not liquid }}x'],
    ['echo and liquid', '{% liquid\n  assign g = "hi"\n  if g\n    echo g | upcase\n  endif\n%}', {}, 'HI'],
    ['whitespace control', 'a  {%- if true -%}\n  b  \n{%- endif -%}  c {{- "d" -}} e', {}, 'abcde'],
    [
      'nil: null and absent alike',
      '{% if x == nil and y == nil %}{{ x }}{{ y }}nil{% endif %}{% if y < 5 %}less{% endif %}',
      { x: null },
      'nil',
    ],
    [
      'empty and blank',
      '{% if s == empty %}e{% endif %}{% if b == blank %}b{% endif %}{% if t == empty %}t{% endif %}',
      { s: '', b: ' ', t: [] },
      'ebt',
    ],
    ['non-ASCII', '{{ name | upcase }} {{ name | size }} {{ name | slice: 0, 2 }}', { name: 'Zoë 😀' }, 'ZOË 😀 6 Zo'],
    [
      'dates in the profile language',
      '{{ birth_date | date: "%-d %B %Y (%a)" }}',
      { birth_date: '2024-01-17', locale: 'nl-NL' },
      '17 januari 2024 (wo)',
    ],
    ['an unknown language writes English', '{{ birth_date | date: "%-d %B" }}', { birth_date: '2024-01-17', locale: 'sv' }, '17 January'],
    [
      '"now" is the send time',
      '{{ "now" | date: "%Y-%m-%d %H:%M" }} {{ "today" | date: "%A" }}',
      { locale: 'de' },
      '2026-11-28 10:00 Samstag',
    ],
    ['a date-time with an offset, in UTC', '{{ at | date: "%H:%M %z" }}', { at: '2024-01-17T10:30:00+02:00' }, '08:30 +0000'],
    ['text that is no date stays as it is', '{{ at | date: "%Y" }}', { at: 'soon' }, 'soon'],
  ])('%s', (_, source, values, expected) => {
    expect(render(source, values)).toBe(expected);
  });

  it('renders the then branch only for a true value (the issue: false was the text "false", which counted as filled in)', () => {
    const source = '{% if vip %}VIP{% else %}Member{% endif %}';
    const outputs = [true, false, null, undefined].map((vip) => render(source, vip === undefined ? {} : { vip }));
    expect(outputs).toEqual(['VIP', 'Member', 'Member', 'Member']);
  });

  it('never reads what Object.prototype has under a name', () => {
    expect(render('[{{ constructor }}{{ toString }}{{ __proto__ }}]')).toBe('[]');
  });

  it('writes a list as its items one after another, as Liquid does', () => {
    expect(render('{{ interests }}', { interests: ['a', 'b'] })).toBe('ab');
  });

  it('renders the same bytes every time (deterministic)', () => {
    const source = '{% for t in interests %}{% cycle "x", "y" %}{{ t | upcase }}{% endfor %}{% increment n %}{{ "now" | date: "%s" }}';
    const values = { interests: ['a', 'b', 'c'] };
    expect(render(source, values)).toBe(render(source, values));
  });

  it('stops a range at 10,000 numbers and a render at 100,000 loop turns', () => {
    expect(render('{% assign r = (1..1000000) %}{{ r.size }} {{ r.last }}')).toBe('10000 10000');
    // Every turn counts, the outer loop's too: 100 outer turns, then 99,900 inner ones.
    const turns = render('{% for a in (1..1000) %}{% for b in (1..1000) %}x{% endfor %}{% endfor %}');
    expect(turns.length).toBe(99_900);
  });
});

describe('compileTemplate: writing values into HTML, text and a header', () => {
  it('escapes values in HTML, never the template itself', () => {
    expect(render('<b>{{ name }}</b>', { name: '<script>alert("x")</script> & \'co\'' })).toBe(
      '<b>&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;co&#39;</b>',
    );
  });

  it('escapes a default and a literal too', () => {
    expect(render('{{ name | default: "<you>" }} {{ "a&b" }}', {})).toBe('&lt;you&gt; a&amp;b');
  });

  it('escapes once: an output ending with escape or escape_once is not escaped again (a filter after them is text again)', () => {
    const values = { name: 'Tom & <Jerry>', html: 'Tom &amp; <b>' };
    expect(render('{{ name | escape }}|{{ html | escape_once }}|{{ name | escape | upcase }}', values)).toBe(
      'Tom &amp; &lt;Jerry&gt;|Tom &amp; &lt;b&gt;|TOM &amp;AMP; &amp;LT;JERRY&amp;GT;',
    );
  });

  it('keeps the <br /> of newline_to_br and escapes the text around it', () => {
    expect(render('{{ address | newline_to_br }}', { address: 'Main St <1>\nGent' })).toBe('Main St &lt;1&gt;<br />\nGent');
  });

  it('writes captured HTML as it was captured: markup kept, each value escaped once', () => {
    const source =
      '{% capture card %}<b>{{ name }}</b>{% endcapture %}{{ card }}|{% if card contains "&" %}raw text has &{% endif %}|{{ card | size }}';
    expect(render(source, { name: 'A&B' })).toBe('<b>A&amp;B</b>|raw text has &|10');
    expect(render(source, { name: 'A&B' }, 'text')).toBe('<b>A&B</b>|raw text has &|10');
  });

  it('keeps values as they are in text mode', () => {
    expect(render('{{ name }}', { name: 'A & B <c>' }, 'text')).toBe('A & B <c>');
  });

  it('puts values on one line in header mode, so they cannot start a new header', () => {
    expect(render('Hi {{ name }}', { name: 'Eve\r\nBcc: victim@example.com' }, 'header')).toBe('Hi Eve Bcc: victim@example.com');
    expect(render('{{ name }}', { name: 'a\u2028b\tc\u0000d' }, 'header')).toBe('a b c d');
    expect(render('{% capture x %}{{ name }}{% endcapture %}Hi {{ x }}', { name: 'Eve\nBcc: v@x' }, 'header')).toBe('Hi Eve Bcc: v@x');
  });
});

describe('compileTemplate: the fields a template reads', () => {
  const fields = (source: string) => {
    const result = compileTemplate(source);
    if (!result.ok) throw new Error(result.error.message);
    return { fields: result.template.fields, shadowed: result.template.shadowedFields };
  };

  it('lists each field once, in order of first use, through filters, loops, conditions and ranges', () => {
    expect(
      fields(
        '{{ b }} {% if a %}{{ b | append: c }}{% endif %}{% for t in interests limit: n %}{{ t }}{{ forloop.index }}{% endfor %}{{ (1..m) | size }}',
      ).fields,
    ).toEqual(['b', 'a', 'c', 'interests', 'n', 'm']);
  });

  it('does not list names the template sets before reading them, nor loop variables', () => {
    const use = fields(
      '{% assign total = points | plus: 1 %}{{ total }}{% capture x %}{{ y }}{% endcapture %}{{ x }}{% increment n %}{{ n }}{% for t in tags %}{{ t }}{% endfor %}',
    );
    expect(use).toEqual({ fields: ['points', 'y', 'tags'], shadowed: [] });
  });

  it('lists apart a name it sets but may read first', () => {
    expect(fields('{% assign first_name = first_name | capitalize %}{{ first_name }}')).toEqual({ fields: [], shadowed: ['first_name'] });
    expect(fields('{% if vip %}{% assign greeting = "Dear VIP" %}{% endif %}{{ greeting | default: "Hi" }}')).toEqual({
      fields: ['vip'],
      shadowed: ['greeting'],
    });
    expect(fields('{% if vip %}{% assign g = 1 %}{% else %}{% assign g = 2 %}{% endif %}{{ g }}')).toEqual({
      fields: ['vip'],
      shadowed: [],
    });
  });

  it('reads the locale when it writes a date (for the month and day names)', () => {
    expect(fields('{{ birth_date | date: "%B" }}').fields).toEqual(['birth_date', 'locale']);
  });
});

describe('compileTemplate: errors with line and column, and what to do', () => {
  it.each<[string, string, number, number, RegExp]>([
    ['unclosed output', 'Hello {{ first_name', 1, 7, /"\{\{" is not closed with "\}\}"/],
    ['unclosed on line 2', 'Hello\n  {{ first_name', 2, 3, /not closed/],
    ['an output opened inside another', '{{ a {{ b }}', 1, 1, /not closed/],
    ['unclosed tag', 'a {% if x', 1, 3, /"\{%" is not closed with "%\}"/],
    ['empty output', 'x {{ }}', 1, 3, /empty "\{\{ \}\}"/],
    [
      'unknown filter, with the nearest known one',
      'Hi {{ name | trunc: 5 }}',
      1,
      14,
      /^unknown filter "trunc"; did you mean "truncate"\?$/,
    ],
    ['a misspelt filter', '{{ name | upcsae }}', 1, 11, /did you mean "upcase"/],
    ['no raw filter', '{{ name | raw }}', 1, 11, /no "raw" filter/],
    ['default without value', '{{ a | default }}', 1, 8, /"default" takes one value, as in default: "there"/],
    ['too many values', '{{ a | upcase: 1 }}', 1, 8, /"upcase" takes no value/],
    ['an unknown option', '{{ a | default: 1, allow_true: true }}', 1, 20, /no option "allow_true"/],
    ['if without condition', '{% if %}x{% endif %}', 1, 1, /"if" needs a condition/],
    ['= instead of ==', '{% if a = 1 %}x{% endif %}', 1, 9, /write "==" to compare/],
    ['arithmetic signs', '{% if a + 1 %}x{% endif %}', 1, 9, /use the filters plus, minus/],
    ['a second value without operator', '{{ a b }}', 1, 6, /unexpected "b"/],
    ['missing endif, at its if', 'a\nb {% if x %}c', 2, 3, /missing "\{% endif %\}" for this "\{% if %\}"/],
    ['missing endfor', '{% for t in tags %}{{ t }}', 1, 1, /missing "\{% endfor %\}" for this "\{% for %\}"/],
    ['endif without if', 'x {% endif %}', 1, 3, /without a matching "\{% if %\}"/],
    ['else after else', '{% if a %}1{% else %}2{% else %}3{% endif %}', 1, 23, /the "else" comes last/],
    ['unknown tag, with the nearest known one', '{% fi x %}', 1, 1, /unknown tag "fi"; did you mean "if"\?/],
    ['include is out of scope', '{% include "footer" %}', 1, 1, /"include" is not supported/],
    ['break outside a loop', '{% break %}', 1, 1, /only possible inside a "\{% for %\}"/],
    ['an unknown for option', '{% for t in tags limt: 2 %}{% endfor %}', 1, 18, /unknown option "limt" of "for"/],
    ['filters on a for list', '{% for t in tags | sort %}{% endfor %}', 1, 18, /assign it first/],
    ['an unclosed string', '{{ "abc }}', 1, 1, /not closed/],
    ['a bad line in liquid', '{% liquid\n  assign x = 1\n  frob x\n%}', 3, 3, /unknown tag "frob"/],
  ])('%s', (_, source, line, column, message) => {
    const e = error(source);
    expect(e.message).toMatch(message);
    expect({ line: e.line, column: e.column }).toEqual({ line, column });
  });
});

describe('escapeHtml and oneLine', () => {
  it('escapes the five significant characters', () => {
    expect(escapeHtml(`&<>"'`)).toBe('&amp;&lt;&gt;&quot;&#39;');
  });
  it('collapses control characters and trims', () => {
    expect(oneLine(' a\n\n b ')).toBe('a b');
  });
});
