import { describe, expect, it } from 'vitest';
import { contentHash } from './content-hash';
import { DEFAULT_TYPOLOGY, type Typology } from './typology';
import type { DeliveryContent } from './types';

const content: DeliveryContent = {
  name: 'Autumn',
  fromName: 'Shop',
  fromAddress: 'news@shop.example.com',
  subject: 'Hi',
  html: '<p>Hi</p>',
  preheader: '',
  text: '',
  audience: { kind: 'all' },
  scheduledAt: null,
  typologyId: 'default',
};
const typology = DEFAULT_TYPOLOGY;

describe('contentHash (stale detection)', () => {
  it('is stable for the same content, typology and replica', () => {
    expect(contentHash(content, typology, '5/a')).toBe(contentHash({ ...content }, structuredClone(typology), '5/a'));
    expect(contentHash(content, typology, '5/a')).toMatch(/^[0-9a-f]{26}$/);
  });

  it.each<[string, Partial<DeliveryContent>]>([
    ['subject', { subject: 'Hi!' }],
    ['html', { html: '<p>Hi </p>' }],
    ['from', { fromAddress: 'other@shop.example.com' }],
    ['audience', { audience: { kind: 'condition', field: 'city', operator: 'equals', value: 'Gent' } }],
    ['schedule', { scheduledAt: '2026-12-01T09:00:00.000Z' }],
    ['typology picked', { typologyId: 'mine' }],
  ])('changes when the %s changes', (_, change) => {
    expect(contentHash({ ...content, ...change }, typology, '5/a')).not.toBe(contentHash(content, typology, '5/a'));
  });

  it.each<[string, (t: Typology) => void]>([
    ['a rule is switched off', (t) => (t.rules[8].enabled = false)],
    ['a pressure threshold changes', (t) => t.rules.find((r) => r.kind === 'pressure' && (r.maxMessages = 2))],
    ['a rule is added', (t) => t.rules.push({ id: 'x', name: 'X', kind: 'filtering', check: 'unsubscribed', enabled: true })],
  ])('changes when %s in the typology', (_, edit) => {
    const edited = structuredClone(typology);
    edit(edited);
    expect(contentHash(content, edited, '5/a')).not.toBe(contentHash(content, typology, '5/a'));
  });

  it('changes when the replica or its contact history is newer', () => {
    expect(contentHash(content, typology, '6/a')).not.toBe(contentHash(content, typology, '5/a'));
    expect(contentHash(content, typology, '5/b')).not.toBe(contentHash(content, typology, '5/a'));
  });
});
