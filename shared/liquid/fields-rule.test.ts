/**
 * The "personalization fields" control rule with full Liquid: it reports every name a
 * template reads that is no field of the audience (through filters, loops, conditions),
 * and never a variable the template sets itself or a loop's own names.
 */

import { describe, expect, it } from 'vitest';
import { compileMessage } from '../message';
import { checkMessage, DEFAULT_TYPOLOGY } from '../typology';
import type { AttributeDefinition, DeliveryContent } from '../types';

const schema: AttributeDefinition[] = [
  { name: 'city', label: 'City', type: 'text' },
  { name: 'vip', label: 'VIP', type: 'boolean' },
  { name: 'interests', label: 'Interests', type: 'tags' },
];

function fieldProblems(html: string): string[] {
  const content: DeliveryContent = {
    name: 'x',
    fromName: 'Shop',
    fromAddress: 'news@shop.example.com',
    subject: 'Hi',
    html: `${html}<a href="{{ unsubscribe_url }}">u</a>`,
    preheader: '',
    text: '',
    audience: { kind: 'all' },
    scheduledAt: null,
    typologyId: 'default',
  };
  const compiled = compileMessage(content, schema);
  if (!compiled.ok) throw new Error(compiled.error.message);
  return checkMessage(content, compiled.message, schema, DEFAULT_TYPOLOGY.rules)
    .filter((f) => f.rule === 'Personalization fields')
    .map((f) => f.message);
}

describe('the personalization fields rule', () => {
  it.each<[string, string, string[]]>([
    [
      'known fields everywhere',
      '{% if vip %}{{ city | upcase }}{% endif %}{% for t in interests %}{{ t }}{{ forloop.index }}{% endfor %}',
      [],
    ],
    ['an unknown field in a filter argument', '{{ city | append: shoe_size }}', ['The field "shoe_size" does not exist in the audience.']],
    ['an unknown field in a condition', '{% if points > 10 %}x{% endif %}', ['The field "points" does not exist in the audience.']],
    [
      'an unknown field as a loop list',
      '{% for t in hobbies %}{{ t }}{% endfor %}',
      ['The field "hobbies" does not exist in the audience.'],
    ],
    [
      'variables the template sets',
      '{% assign g = city | default: "x" %}{% capture c %}{{ g }}{% endcapture %}{{ c }}{% increment n %}{{ n }}',
      [],
    ],
    ['a variable set in one branch only', '{% if vip %}{% assign greeting = "Dear VIP" %}{% endif %}{{ greeting | default: "Hi" }}', []],
    [
      'a loop variable read after its loop',
      '{% for t in interests %}{% endfor %}{{ t }}',
      ['The field "t" does not exist in the audience.'],
    ],
    ['forloop outside a loop', '{{ forloop.index }}', ['The field "forloop" does not exist in the audience.']],
    ['dates read the locale, a core field', '{{ "now" | date: "%B" }}', []],
  ])('%s', (_, html, problems) => {
    expect(fieldProblems(html)).toEqual(problems);
  });
});
