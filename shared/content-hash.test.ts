import { describe, expect, it } from 'vitest';
import { contentHash } from './content-hash';
import type { DeliveryContent } from './types';

const content: DeliveryContent = {
  name: 'Autumn',
  fromName: 'Shop',
  fromAddress: 'news@shop.example.com',
  subject: 'Hi',
  html: '<p>Hi</p>',
  audience: { kind: 'all' },
  scheduledAt: null,
};

describe('contentHash (stale detection)', () => {
  it('is stable for the same content and replica', () => {
    expect(contentHash(content, 5)).toBe(contentHash({ ...content }, 5));
    expect(contentHash(content, 5)).toMatch(/^[0-9a-f]{26}$/);
  });

  it.each<[string, Partial<DeliveryContent>]>([
    ['subject', { subject: 'Hi!' }],
    ['html', { html: '<p>Hi </p>' }],
    ['from', { fromAddress: 'other@shop.example.com' }],
    ['audience', { audience: { kind: 'condition', field: 'city', operator: 'equals', value: 'Gent' } }],
    ['schedule', { scheduledAt: '2026-12-01T09:00:00.000Z' }],
  ])('changes when the %s changes', (_, change) => {
    expect(contentHash({ ...content, ...change }, 5)).not.toBe(contentHash(content, 5));
  });

  it('changes when the replica is newer', () => {
    expect(contentHash(content, 6)).not.toBe(contentHash(content, 5));
  });
});
