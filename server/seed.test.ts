import { describe, expect, it } from 'vitest';
import { isValidEmail, mailboxKey, normalizeEmail } from '../shared/email-address';
import { demoAudience } from './seed';

describe('the demo audience', () => {
  const { profiles, denylisted, quarantined } = demoAudience();

  it('is the same on every machine, with unique addresses', () => {
    expect(demoAudience()).toEqual({ profiles, denylisted, quarantined });
    expect(profiles).toHaveLength(10_000);
    expect(new Set(profiles.map((p) => normalizeEmail(p.email))).size).toBe(10_000);
  });

  it('has a realistic share of unsubscribed, invalid, second and suppressed addresses', () => {
    const unsubscribed = profiles.filter((p) => p.status === 'unsubscribed').length;
    const valid = profiles.filter((p) => isValidEmail(normalizeEmail(p.email)));
    const invalid = profiles.length - valid.length;
    const secondAddresses = valid.length - new Set(valid.map((p) => mailboxKey(p.email))).size;
    for (const [count, low, high] of [
      [unsubscribed, 300, 500],
      [invalid, 150, 250],
      [secondAddresses, 150, 250],
      [denylisted.length, 25, 80],
      [quarantined.length, 25, 80],
    ]) {
      expect(count).toBeGreaterThanOrEqual(low);
      expect(count).toBeLessThanOrEqual(high);
    }
  });
});

describe('the demo audience of record', () => {
  it('marks what the seed wrote, so that the demo can be told from the operator’s profiles later', async () => {
    const { testStores } = await import('./test-kit');
    const { demoAddresses, demoProfilesLeft, seedDemoAudience } = await import('./seed');
    const stores = await testStores();
    const { audience } = stores;
    await seedDemoAudience(audience, new Date('2026-11-28T10:00:00Z'));
    expect(demoAddresses()).toEqual(demoAudience().profiles.map((p) => normalizeEmail(p.email)));
    expect(await stores.query('SELECT COUNT(*) AS n FROM profiles WHERE imported_by = ?', ['demo'])).toEqual([{ n: 10_000 }]);
    expect(await demoProfilesLeft(audience)).toBe(10_000);
    // A profile of the operator's own is not the demo's, whatever its address.
    await audience.upsertMany([{ email: 'own@example.com' }], 'import of own.csv', new Date(), 'import-1');
    await audience.upsertMany([{ email: demoAddresses()[7], firstName: 'Mine' }], 'import of own.csv', new Date(), 'import-2');
    expect(await demoProfilesLeft(audience)).toBe(9_999);
    await stores.close();
  });
});
