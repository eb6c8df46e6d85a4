import { describe, expect, it } from 'vitest';
import type { SendItem, StoredPreparation } from './db/db';
import { deliveryState, formatWhen, timeLeft } from './delivery-state';
import type { DeliveryStatus, SendKpis } from '$shared/types';

const preparation = { deliveryId: 'd1', contentHash: 'aaaa', status: 'prepared' } as StoredPreparation;
const item = { kind: 'send', deliveryId: 'd1', state: 'waiting' } as SendItem;
const server = (status: DeliveryStatus) => ({ status }) as SendKpis;

describe('deliveryState', () => {
  it.each<[string, Parameters<typeof deliveryState>[0], string]>([
    ['no preparation', { server: null, outbox: undefined, preparation: undefined, currentHash: 'aaaa' }, 'draft'],
    ['prepared', { server: null, outbox: undefined, preparation, currentHash: 'aaaa' }, 'prepared'],
    ['changed since', { server: null, outbox: undefined, preparation, currentHash: 'bbbb' }, 'stale'],
    ['in the outbox', { server: null, outbox: item, preparation, currentHash: 'aaaa' }, 'outbox'],
    ['scheduled on the server', { server: server('scheduled'), outbox: undefined, preparation, currentHash: 'aaaa' }, 'server'],
    // Unscheduled, or a hand-over cancelled half-way: the app decides again.
    ['held by the server, not sent', { server: server('prepared'), outbox: undefined, preparation, currentHash: 'aaaa' }, 'prepared'],
    ['held by the server, then edited', { server: server('prepared'), outbox: undefined, preparation, currentHash: 'bbbb' }, 'stale'],
    ['held by the server, sent again', { server: server('prepared'), outbox: item, preparation, currentHash: 'aaaa' }, 'outbox'],
  ])('%s', (_, input, kind) => {
    expect(deliveryState(input).kind).toBe(kind);
  });
});

describe('formatWhen', () => {
  const at = new Date('2026-12-01T18:04:00Z');
  const now = new Date('2026-11-30T09:00:00Z');

  it.each([
    ['en-GB', 'Europe/Amsterdam', 'Tue 1 Dec at 19:04'],
    ['en-US', 'Europe/Amsterdam', 'Tue, Dec 1 at 7:04 PM'],
    ['en-GB', 'UTC', 'Tue 1 Dec at 18:04'],
  ])('in %s, %s: %s', (locale, timeZone, text) => {
    expect(formatWhen(at, { locale, timeZone, now })).toBe(text);
  });

  it('names the year when it is another', () => {
    expect(formatWhen(at, { locale: 'en-GB', timeZone: 'UTC', now: new Date('2025-12-31T00:00:00Z') })).toBe('Tue, 1 Dec 2026 at 18:04');
  });
});

describe('timeLeft', () => {
  it.each([
    [0, 'now'],
    [-5_000, 'now'],
    [40_000, 'in 40 s'],
    [59_001, 'in 1 min'],
    [60_000, 'in 1 min'],
    [61_000, 'in 2 min'],
    [(2 * 60 + 5) * 60_000, 'in 2 h 5 min'],
    [3 * 3_600_000, 'in 3 h'],
    [(3 * 24 + 4) * 3_600_000, 'in 3 days 4 h'],
    [24 * 3_600_000, 'in 1 day'],
  ])('%d ms: %s', (ms, text) => {
    expect(timeLeft(ms)).toBe(text);
  });
});
