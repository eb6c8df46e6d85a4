import { describe, expect, it } from 'vitest';
import { compileTemplate, escapeHtml, oneLine, type RenderMode } from './template';

function render(source: string, values: Record<string, string>, mode: RenderMode = 'html'): string {
  const result = compileTemplate(source);
  if (!result.ok) throw new Error(`unexpected error: ${result.error.message}`);
  return result.template.render(values, mode);
}

describe('compileTemplate: rendering', () => {
  it.each([
    ['plain text', 'Hello', {}, 'Hello'],
    ['a field', 'Hi {{ first_name }}!', { first_name: 'Anna' }, 'Hi Anna!'],
    ['no spaces', 'Hi {{first_name}}', { first_name: 'Anna' }, 'Hi Anna'],
    ['a missing field is empty', 'Hi {{ first_name }}.', {}, 'Hi .'],
    ['default for missing', '{{ first_name | default: "there" }}', {}, 'there'],
    ['default for blank', '{{ first_name | default: "there" }}', { first_name: '  ' }, 'there'],
    ['default not used', '{{ first_name | default: "there" }}', { first_name: 'Bram' }, 'Bram'],
    ['single-quoted default', "{{ first_name | default: 'you' }}", {}, 'you'],
    ['a pipe inside the default', '{{ x | default: "a|b" }}', {}, 'a|b'],
    ['upcase', '{{ city | upcase }}', { city: 'Gent' }, 'GENT'],
    ['chained filters', '{{ city | default: "utrecht" | capitalize }}', {}, 'Utrecht'],
    ['if with value', '{% if city %}in {{ city }}{% endif %}', { city: 'Leiden' }, 'in Leiden'],
    ['if without value', 'a{% if city %}in {{ city }}{% endif %}b', {}, 'ab'],
    ['if/else', '{% if city %}here{% else %}anywhere{% endif %}', {}, 'anywhere'],
    ['unless', '{% unless city %}no city{% endunless %}', {}, 'no city'],
    ['nested', '{% if a %}{% if b %}ab{% else %}a{% endif %}{% endif %}', { a: '1' }, 'a'],
    ['multi-line', 'line 1\n{{ a }}\nline 3', { a: 'two' }, 'line 1\ntwo\nline 3'],
  ])('%s', (_, source, values, expected) => {
    expect(render(source, values)).toBe(expected);
  });

  it('escapes values in HTML, never the template itself', () => {
    expect(render('<b>{{ name }}</b>', { name: '<script>alert("x")</script> & \'co\'' })).toBe(
      '<b>&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;co&#39;</b>',
    );
  });

  it('escapes the default value too', () => {
    expect(render('{{ name | default: "<you>" }}', {})).toBe('&lt;you&gt;');
  });

  it('keeps values as they are in text mode', () => {
    expect(render('{{ name }}', { name: 'A & B <c>' }, 'text')).toBe('A & B <c>');
  });

  it('puts values on one line in header mode, so they cannot start a new header', () => {
    expect(render('Hi {{ name }}', { name: 'Eve\r\nBcc: victim@example.com' }, 'header')).toBe('Hi Eve Bcc: victim@example.com');
    expect(render('{{ name }}', { name: 'a\u2028b\tc\u0000d' }, 'header')).toBe('a b c d');
  });

  it('lists the fields the template reads, once each, in order', () => {
    const result = compileTemplate('{{ b }} {% if a %}{{ b }}{{ c }}{% endif %}');
    expect(result.ok && result.template.fields).toEqual(['b', 'a', 'c']);
  });

  it('renders the same bytes every time (deterministic)', () => {
    const source = '{% if city %}{{ city | upcase }}{% else %}{{ first_name | default: "x" }}{% endif %}';
    const values = { city: 'Zwolle', first_name: 'Eva' };
    expect(render(source, values)).toBe(render(source, values));
  });
});

describe('compileTemplate: syntax errors with line and column', () => {
  it.each([
    ['unclosed output', 'Hello {{ first_name', 1, 7, /not closed/],
    ['unclosed on line 2', 'Hello\n  {{ first_name', 2, 3, /not closed/],
    ['an output opened inside another', '{{ a {{ b }}', 1, 1, /not closed/],
    ['empty output', 'x {{ }}', 1, 3, /empty/],
    ['not a field name', '{{ first-name }}', 1, 1, /not a field name/],
    ['unknown filter', '{{ a | shout }}', 1, 1, /unknown filter/],
    ['default without value', '{{ a | default }}', 1, 1, /needs a value/],
    ['if without field', '{% if %}x{% endif %}', 1, 1, /needs one field/],
    ['missing endif, at its if', 'a\nb {% if x %}c', 2, 3, /missing "\{% endif %\}" for this "\{% if %\}"/],
    ['missing endif after else', '{% if x %}a{% else %}b', 1, 1, /missing "\{% endif %\}"/],
    ['endif without if', 'x {% endif %}', 1, 3, /without a matching/],
    ['unknown tag', '{% for x in y %}', 1, 1, /unknown tag "for"/],
  ])('%s', (_, source, line, column, message) => {
    const result = compileTemplate(source);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.error).toMatchObject({ line, column });
    expect(result.error.message).toMatch(message);
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
