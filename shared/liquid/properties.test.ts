/**
 * Property-based: operators and filters over random values (text with markup and non-ASCII,
 * integers and decimals, negative and zero, yes/no, tags, nil) render as liquidjs renders
 * them, in HTML and in text. The values reach both as a prepared batch carries them.
 */

import fc from 'fast-check';
import { Liquid } from 'liquidjs';
import { describe, expect, it } from 'vitest';
import { compileTemplate, type RenderMode } from '../template';
import type { TemplateValue } from '../types';

const html = new Liquid({ outputEscape: 'escape', timezoneOffset: 0, locale: 'en' });
const text = new Liquid({ timezoneOffset: 0, locale: 'en' });
const SEND_AT = Date.UTC(2026, 10, 28, 10, 0, 0);

const chars = fc.constantFrom(...'aAbz 09-_.,&<>"\'\n\téü😀東'.split(/(?:)/u));
const textValue = fc.array(chars, { maxLength: 12 }).map((cs) => cs.join(''));
const number = fc.oneof(
  fc.integer({ min: -1000, max: 1000 }),
  fc.double({ min: -1e6, max: 1e6, noNaN: true, noDefaultInfinity: true }),
  fc.constant(0),
);
const value: fc.Arbitrary<TemplateValue | undefined> = fc.oneof(
  textValue,
  number,
  fc.boolean(),
  fc.array(textValue, { maxLength: 5 }),
  fc.constant(undefined),
  fc.constant(null),
);

/** liquidjs is given what a prepared batch carries: nil left out. */
function values(record: Record<string, TemplateValue | undefined>): Record<string, TemplateValue> {
  const out: Record<string, TemplateValue> = {};
  for (const [k, v] of Object.entries(record)) if (v !== undefined && v !== null) out[k] = v;
  return out;
}

function reference(template: string, record: Record<string, TemplateValue | undefined>, mode: RenderMode): string {
  return (mode === 'html' ? html : text).parseAndRenderSync(template, values(record)).replaceAll('&#34;', '&quot;');
}

function both(template: string, record: Record<string, TemplateValue | undefined>, mode: RenderMode): [string, string] {
  const compiled = compileTemplate(template);
  if (!compiled.ok) throw new Error(compiled.error.message);
  return [compiled.template.render(record, mode, SEND_AT), reference(template, record, mode)];
}

const modes = fc.constantFrom<RenderMode>('html', 'text');

describe('operators over random values', () => {
  it.each(['==', '!=', '<', '>', '<=', '>=', 'contains', 'and', 'or'])('%s', (op) => {
    fc.assert(
      fc.property(value, value, modes, (a, b, mode) => {
        const [ours, theirs] = both(`{% if a ${op} b %}T{% else %}F{% endif %}`, { a, b }, mode);
        expect(ours).toBe(theirs);
      }),
      { numRuns: 300 },
    );
  });

  it('truthiness, nil, empty and blank, not, and chains of and/or', () => {
    const literal = fc.constantFrom('nil', 'empty', 'blank', 'true', 'false', '0', '""', '" "');
    fc.assert(
      fc.property(value, value, value, literal, fc.constantFrom('and', 'or'), fc.constantFrom('and', 'or'), (a, b, c, lit, x, y) => {
        const template = `{% if a %}1{% endif %}{% unless a %}2{% endunless %}{% if a == ${lit} %}3{% endif %}{% if ${lit} == a %}4{% endif %}{% if not a %}5{% endif %}{% if a ${x} b ${y} c %}6{% endif %}`;
        const [ours, theirs] = both(template, { a, b, c }, 'text');
        expect(ours).toBe(theirs);
      }),
      { numRuns: 400 },
    );
  });

  it('case/when compares as ==', () => {
    fc.assert(
      fc.property(value, value, value, (a, b, c) => {
        const [ours, theirs] = both('{% case a %}{% when b %}B{% when c, b %}C{% else %}E{% endcase %}', { a, b, c }, 'text');
        expect(ours).toBe(theirs);
      }),
      { numRuns: 300 },
    );
  });
});

/** Filter calls over random inputs and arguments, `a` the input and `b`, `c` the arguments. */
const FILTER_CALLS = [
  'default: b',
  'default: b, allow_false: true',
  'append: b',
  'prepend: b',
  'capitalize',
  'upcase',
  'downcase',
  'strip',
  'lstrip',
  'rstrip',
  'strip: b',
  'strip_html',
  'strip_newlines',
  'truncate: n',
  'truncate: n, b',
  'replace: b, c',
  'replace_first: b, c',
  'replace_last: b, c',
  'remove: b',
  'remove_first: b',
  'remove_last: b',
  'split: b | join: "|"',
  'join: b',
  'first',
  'last',
  'size',
  'slice: n',
  'slice: n, m',
  'reverse | join: ","',
  'sort | join: ","',
  'sort_natural | join: ","',
  'uniq | join: ","',
  'compact | size',
  'concat: b | join: ","',
  'map: "size" | join: ","',
  'plus: b',
  'minus: b',
  'times: b',
  'divided_by: b',
  'modulo: b',
  'round',
  'round: n',
  'ceil',
  'floor',
  'abs',
  'at_least: b',
  'at_most: b',
  'escape',
  'escape_once',
  'url_encode',
  'url_encode | url_decode',
  'base64_encode',
  'base64_encode | base64_decode',
];

describe('filters over random values', () => {
  it.each(FILTER_CALLS)('%s', (call) => {
    const small = fc.integer({ min: -8, max: 12 });
    fc.assert(
      fc.property(value, value, value, small, small, modes, (a, b, c, n, m, mode) => {
        // As the corpus does: an output ending with escape is escaped once (differential.test.ts).
        const theirsCall = mode === 'html' && /escape(_once)?$/.test(call) ? `${call} | raw` : call;
        const [ours] = both(`{{ a | ${call} }}`, { a, b, c, n, m }, mode);
        expect(ours).toBe(reference(`{{ a | ${theirsCall} }}`, { a, b, c, n, m }, mode));
      }),
      { numRuns: 150 },
    );
  });

  it('truncatewords as liquidjs wherever words are cut', () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom('a', 'bb', 'ccc', 'ü'), { minLength: 3, maxLength: 9 }),
        fc.integer({ min: 1, max: 2 }),
        (words, n) => {
          const [ours, theirs] = both(`{{ a | truncatewords: ${n} }}`, { a: words.join(' ') }, 'text');
          expect(ours).toBe(theirs);
        },
      ),
    );
  });

  it('date over random times and formats', () => {
    const time = fc.integer({ min: Date.UTC(1900, 0, 1), max: Date.UTC(2100, 0, 1) });
    const format = fc.array(
      fc.constantFrom(...'aAbBCdeHIjklLmMpPqsSuUwWyYz%'.split('').map((c) => `%${c}`), '%-d', '%_m', '%^B', '%:z', ' ', '/'),
      {
        maxLength: 6,
      },
    );
    fc.assert(
      fc.property(time, format, fc.constantFrom('iso', 'date', 'seconds'), (t, parts, kind) => {
        const iso = new Date(t).toISOString();
        const input = kind === 'iso' ? iso : kind === 'date' ? iso.slice(0, 10) : Math.floor(t / 1000);
        const [ours, theirs] = both('{{ a | date: f }}', { a: input, f: parts.join('') }, 'text');
        expect(ours).toBe(theirs);
      }),
      { numRuns: 300 },
    );
  });
});
