import { describe, expect, it } from 'vitest';
import { isValidEmail, normalizeEmail } from '../shared/email-address';
import { demoProfiles } from './seed';

describe('the demo audience', () => {
  const profiles = demoProfiles();

  it('is the same on every machine', () => {
    expect(demoProfiles()).toEqual(profiles);
    expect(profiles).toHaveLength(10_000);
  });

  it('has a realistic share of unsubscribed, invalid and duplicate addresses', () => {
    const unsubscribed = profiles.filter((p) => p.status === 'unsubscribed').length;
    const invalid = profiles.filter((p) => !isValidEmail(normalizeEmail(p.email))).length;
    const distinct = new Set(profiles.filter((p) => isValidEmail(normalizeEmail(p.email))).map((p) => normalizeEmail(p.email))).size;
    const duplicates = profiles.length - invalid - distinct;
    for (const [count, low, high] of [
      [unsubscribed, 300, 500],
      [invalid, 150, 250],
      [duplicates, 150, 250],
    ]) {
      expect(count).toBeGreaterThanOrEqual(low);
      expect(count).toBeLessThanOrEqual(high);
    }
  });
});
