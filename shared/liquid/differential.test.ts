/**
 * Mailroom's Liquid against liquidjs, the reference JavaScript implementation of Shopify
 * Liquid: the corpus (differential-corpus.ts) rendered for every profile, in HTML (liquidjs
 * with `outputEscape: 'escape'`) and in text, must give the same bytes. What differs on
 * purpose is in DIFFERENCES below, each with its reason, and checked both ways (Mailroom's
 * output, and that liquidjs's is still another one).
 */

import { Liquid } from 'liquidjs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { compileTemplate, type RenderMode } from '../template';
import { dateLanguage } from './dates';
import { CORPUS, PROFILES, type Profile } from './differential-corpus';
import { FILTERS } from './filters';

const SEND_AT = Date.UTC(2026, 10, 28, 10, 0, 0);

beforeAll(() => {
  // liquidjs reads a date-time without an offset in the machine's zone; Mailroom in UTC.
  process.env.TZ = 'UTC';
  // liquidjs's "now" is Date.now(); Mailroom's is the send time it is given.
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(SEND_AT);
});
afterAll(() => vi.useRealTimers());

const engines = new Map<string, Liquid>();
function engine(mode: RenderMode, language: string, options: object = {}): Liquid {
  const key = `${mode}:${language}:${JSON.stringify(options)}`;
  let liquid = engines.get(key);
  if (!liquid) {
    liquid = new Liquid({ outputEscape: mode === 'html' ? 'escape' : undefined, timezoneOffset: 0, locale: language, ...options });
    engines.set(key, liquid);
  }
  return liquid;
}

/** liquidjs's output for the template, as Mailroom is meant to write it (see the first two DIFFERENCES). */
function reference(template: string, profile: Profile, mode: RenderMode, options: object = {}): string {
  // A prepared batch leaves nil out; liquidjs would compare an explicit null as JavaScript does (null < 5).
  const values = Object.fromEntries(Object.entries(profile).filter(([, v]) => v !== null));
  const liquid = engine(mode, dateLanguage(profile.locale), options);
  // An output that ends with escape or escape_once is written as it is in HTML (Mailroom escapes once).
  const source = mode === 'html' ? template.replace(/\|\s*(escape|escape_once)\s*(-?\}\})/g, '| $1 | raw $2') : template;
  // The corpus holds no "&#34;" of its own (checked below): each one is a quote liquidjs escaped.
  return liquid.parseAndRenderSync(source, structuredClone(values)).replaceAll('&#34;', '&quot;');
}

function mailroom(template: string, values: Profile, mode: RenderMode): string {
  const compiled = compileTemplate(template);
  if (!compiled.ok) throw new Error(`Mailroom refuses ${JSON.stringify(template)}: ${compiled.error.message}`);
  return compiled.template.render(values, mode, SEND_AT);
}

describe('the corpus', () => {
  it('has at least 300 templates, using every filter and tag', () => {
    expect(CORPUS.length).toBeGreaterThanOrEqual(300);
    const all = CORPUS.join('\n');
    const untested = Object.keys(FILTERS).filter((name) => !name.startsWith('base64_url_safe') && !all.includes(`| ${name}`));
    expect(untested).toEqual([]);
    const tags = ['if', 'elsif', 'else', 'unless', 'case', 'when', 'for', 'break', 'continue', 'cycle', 'assign', 'capture'];
    const more = ['increment', 'decrement', 'raw', 'comment', '#', 'echo', 'liquid', '{%-', '-%}', '{{-', '-}}'];
    expect([...tags, ...more].filter((tag) => !all.includes(tag))).toEqual([]);
    expect(all + JSON.stringify(PROFILES)).not.toContain('&#34;');
  });
});

describe('Mailroom renders the corpus as liquidjs does', () => {
  it.each(CORPUS.map((template) => [template]))('%j', (template) => {
    // Captured text is written into HTML as captured (DIFFERENCES): in HTML, only text mode compares.
    const modes: RenderMode[] = /\{%-?\s*capture/.test(template) ? ['text'] : ['html', 'text'];
    const mismatches: { profile: string; mode: RenderMode; mailroom: string; liquidjs: string }[] = [];
    for (const [name, profile] of Object.entries(PROFILES)) {
      for (const mode of modes) {
        const ours = mailroom(template, profile, mode);
        const theirs = reference(template, profile, mode);
        if (ours !== theirs) mismatches.push({ profile: name, mode, mailroom: ours, liquidjs: theirs });
      }
    }
    expect(mismatches).toEqual([]);
  });
});

interface Difference {
  template: string;
  values: Profile;
  mode?: RenderMode;
  mailroom: string;
  /** liquidjs's output, or the start of its error. */
  liquidjs: string;
  why: string;
  options?: object;
}

/** Where Mailroom renders otherwise than liquidjs, on purpose. */
const DIFFERENCES: Difference[] = [
  {
    why: 'A double quote is escaped as &quot; (as Mailroom always has; the same character to every HTML reader); liquidjs writes &#34;. The corpus compares after mapping one to the other.',
    template: '{{ q }}',
    values: { q: 'say "hi"' },
    mailroom: 'say &quot;hi&quot;',
    liquidjs: 'say &#34;hi&#34;',
  },
  {
    why: 'Values are escaped once: an output ending with escape or escape_once is already escaped, where liquidjs with outputEscape escapes it again. The corpus compares with liquidjs told `| raw` there.',
    template: '{{ name | escape }}',
    values: { name: 'Tom & <Jerry>' },
    mailroom: 'Tom &amp; &lt;Jerry&gt;',
    liquidjs: 'Tom &amp;amp; &amp;lt;Jerry&amp;gt;',
  },
  {
    why: 'newline_to_br as the last filter keeps its <br /> in HTML and escapes the text around it; liquidjs escapes the <br /> too, so the filter is of no use there.',
    template: '{{ address | newline_to_br }}',
    values: { address: 'Main St <1>\nGent' },
    mailroom: 'Main St &lt;1&gt;<br />\nGent',
    liquidjs: 'Main St &lt;1&gt;&lt;br /&gt;\nGent',
  },
  {
    why: 'Captured text is written into HTML as captured, each value in it escaped once; liquidjs escapes it all again. Filters and conditions see the text itself, values unescaped.',
    template: '{% capture card %}<b>{{ name }}</b>{% endcapture %}{{ card }} {{ card | size }}',
    values: { name: 'A&B' },
    mailroom: '<b>A&amp;B</b> 10',
    liquidjs: '&lt;b&gt;A&amp;amp;B&lt;/b&gt; 14',
  },
  {
    why: 'truncatewords writes the text as it is when no word is cut, as Shopify Liquid does; liquidjs adds the ellipsis at exactly that many words, and joins the words with single spaces.',
    template: '{{ bio | truncatewords: 3 }}|{{ other | truncatewords: 3 }}',
    values: { bio: 'one two three', other: 'a  b' },
    mode: 'text',
    mailroom: 'one two three|a  b',
    liquidjs: 'one two three...|a b',
  },
  {
    why: 'nil is nil whether a value is null or left out: liquidjs compares a null as JavaScript does (null < 5 is true, a missing value is not).',
    template: '{% if n < 5 %}less{% else %}not{% endif %}',
    values: { n: null },
    mailroom: 'not',
    liquidjs: 'less',
  },
  {
    why: 'increment and decrement count from 0 in counters of their own; liquidjs starts from a number field of the same name (and writes into the profile values).',
    template: '{% increment loyalty_points %}{% increment loyalty_points %}',
    values: { loyalty_points: 10 },
    mailroom: '01',
    liquidjs: '1011',
  },
  {
    why: 'date reads ISO 8601 dates and date-times and Unix seconds only; browsers parse other text differently, so it is left as it is.',
    template: '{{ d | date: "%Y" }}',
    values: { d: 'January 17, 2024' },
    mailroom: 'January 17, 2024',
    liquidjs: '2024',
  },
  {
    why: 'Month and day names come from tables per language (en, nl, de, fr, es, it, pt), not from the machine\'s ICU for the region: "en-GB" writes as "en".',
    template: '{{ d | date: "%b %B" }}',
    values: { d: '2024-09-01', locale: 'en-GB' },
    mailroom: 'Sep September',
    liquidjs: 'Sept September',
    options: { locale: 'en-GB' },
  },
  {
    why: 'A language without a table writes English names; liquidjs asks ICU.',
    template: '{{ d | date: "%B" }}',
    values: { d: '2024-09-01', locale: 'sv' },
    mailroom: 'September',
    liquidjs: 'september',
    options: { locale: 'sv' },
  },
  {
    why: "%c, %x and %X are Ruby's fixed forms (Shopify Liquid); liquidjs asks the machine's locale.",
    template: '{{ d | date: "%c|%x|%X" }}',
    values: { d: '2024-09-01T13:05:09Z' },
    mailroom: 'Sun Sep  1 13:05:09 2024|09/01/24|13:05:09',
    liquidjs: '9/1/2024',
  },
  {
    why: 'A filter never fails a message: a malformed URL escape is left as it is, text that is no base64 decodes to ""; liquidjs throws.',
    template: '{{ u | url_decode }}|{{ b | base64_decode }}',
    values: { u: '%E0%A4%A', b: '@@' },
    mailroom: '%E0%A4%A|',
    liquidjs: 'URI malformed',
  },
  {
    why: 'A range holds at most 10,000 numbers (and one render at most 100,000 loop turns), so no template can hang a send.',
    template: '{{ (1..20000) | size }}',
    values: {},
    mailroom: '10000',
    liquidjs: '20000',
  },
  {
    why: "escape_once also leaves &quot; alone (which Mailroom's escaping writes); liquidjs knows only &#34;.",
    template: '{{ t | escape_once }}',
    values: { t: '&quot;' },
    mode: 'text',
    mailroom: '&quot;',
    liquidjs: '&amp;quot;',
  },
];

describe('deliberate differences from liquidjs', () => {
  it.each(DIFFERENCES.map((d) => [d.why, d]))('%s', (_, d) => {
    const mode = d.mode ?? 'html';
    expect(mailroom(d.template, d.values, mode)).toBe(d.mailroom);
    let theirs: string;
    try {
      const values = Object.fromEntries(Object.entries(d.values).filter(([, v]) => v !== undefined));
      theirs = engine(mode, dateLanguage(d.values.locale), d.options).parseAndRenderSync(d.template, values);
    } catch (error) {
      theirs = String(error);
    }
    expect(theirs).toContain(d.liquidjs);
    expect(theirs).not.toBe(d.mailroom);
  });
});

/** Templates liquidjs renders (ignoring what it does not understand) and Mailroom refuses with a compile error, on purpose. */
const REFUSED: [string, string][] = [
  ['{{ name | shout }}', 'an unknown filter is an error with the nearest known name, not the value unchanged'],
  ['{{ name | upcase: 1 }}', 'a filter given more values than it takes'],
  ['{{ a b }}', 'a second value without an operator (liquidjs writes the first)'],
  ['{% for t in tags | sort %}{{ t }}{% endfor %}', 'filters on a for list (liquidjs ignores them)'],
  ['{% for t in tags limt: 2 %}{{ t }}{% endfor %}', 'an unknown option of for (liquidjs ignores it)'],
  ['a{% break %}b', 'break outside a loop (liquidjs stops the template there)'],
  ['{{ name | raw }}', 'raw: values are always escaped in HTML'],
  ['{% case x %}{% else %}a{% when 1 %}b{% endcase %}', 'when after else (liquidjs ignores it)'],
];

describe('templates Mailroom refuses where liquidjs renders something', () => {
  it.each(REFUSED)('%s (%s)', (template) => {
    expect(compileTemplate(template).ok).toBe(false);
    expect(() => new Liquid().parseAndRenderSync(template, { a: 1, name: 'n', tags: ['b', 'a'] })).not.toThrow();
  });
});
