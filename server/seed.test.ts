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
