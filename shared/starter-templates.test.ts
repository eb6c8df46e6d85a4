import { describe, expect, it } from 'vitest';
import { contentFacts } from './content-checks';
import { compileMessage, recipientValues, renderMessage } from './message';
import { STARTER_TEMPLATES } from './starter-templates';
import { makeProfile } from './test-profile';
import { checkMessage, DEFAULT_TYPOLOGY, HTML_CLIP_BYTES } from './typology';
import type { DeliveryContent } from './types';

const SCHEMA = [{ name: 'city', label: 'City', type: 'text' as const }];

describe.each(STARTER_TEMPLATES.map((t) => [t.name, t] as const))('the starter template %s', (_, template) => {
  const content: DeliveryContent = {
    name: template.name,
    fromName: 'Shop',
    fromAddress: 'news@shop.example.com',
    subject: template.subject,
    html: template.html,
    preheader: template.preheader,
    text: '',
    audience: { kind: 'all' },
    scheduledAt: null,
    typologyId: DEFAULT_TYPOLOGY.id,
  };

  it('compiles, and passes every control rule of the default typology', () => {
    const compiled = compileMessage(content, SCHEMA);
    expect(compiled.ok).toBe(true);
    if (!compiled.ok) return;
    expect(checkMessage(content, compiled.message, SCHEMA, DEFAULT_TYPOLOGY.rules)).toEqual([]);
  });

  it('renders for a profile with every value and for one with none, under Gmail’s clipping size', () => {
    const compiled = compileMessage(content, SCHEMA);
    if (!compiled.ok) throw new Error(compiled.error.message);
    for (const profile of [makeProfile({ firstName: 'Zoë', attributes: { city: 'Gent' } }), makeProfile({ firstName: '' })]) {
      const values = recipientValues(profile, compiled.message.profileFields);
      const message = renderMessage(compiled.message, values, { unsubscribeUrl: 'https://mail.example.com/u/t', sendAt: new Date() });
      expect(message.html).toContain('https://mail.example.com/u/t');
      expect(message.html).not.toMatch(/\{\{|\{%/);
      expect(message.subject).not.toMatch(/\{\{|undefined|null/);
      expect(Buffer.byteLength(message.html)).toBeLessThan(HTML_CLIP_BYTES / 4);
      expect(message.text.length).toBeGreaterThan(100);
    }
  });

  it('is at most 600 px wide and fluid below it, with a preheader of its own that the message shows first', () => {
    expect(template.html).toContain('max-width: 600px');
    expect(template.html).toContain('name="viewport"');
    const compiled = compileMessage(content, SCHEMA);
    if (!compiled.ok) throw new Error(compiled.error.message);
    const message = renderMessage(compiled.message, {}, { unsubscribeUrl: 'https://mail.example.com/u/t', sendAt: new Date() });
    expect(contentFacts(message.html).preheader).toContain(template.preheader);
    expect(template.preheader.length).toBeGreaterThan(30);
  });
});

it('has five starters, each with its own id', () => {
  expect(new Set(STARTER_TEMPLATES.map((t) => t.id)).size).toBe(5);
});
