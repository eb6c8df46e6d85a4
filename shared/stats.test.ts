import { describe, expect, it } from 'vitest';
import { compareInWords, compareRates, normalCdf, percent } from './stats';

describe('compareRates', () => {
  it('matches the two-proportion z-test worked by hand', () => {
    // 120 of 1,000 against 95 of 1,000: pooled 0.1075, se = sqrt(0.1075 × 0.8925 × 0.002) = 0.013853, z = 1.8047.
    const c = compareRates({ count: 120, of: 1000 }, { count: 95, of: 1000 });
    expect(c.a).toBe(0.12);
    expect(c.b).toBe(0.095);
    expect(c.confidence).toBeCloseTo(0.96444, 4); // Φ(1.8047)
    expect(c.enough).toBe(true);
    expect(compareRates({ count: 95, of: 1000 }, { count: 120, of: 1000 }).confidence).toBeCloseTo(1 - 0.96444, 4);
  });

  it('says when the groups are too small to tell, and never divides by an empty group', () => {
    expect(compareRates({ count: 3, of: 10 }, { count: 1, of: 10 }).enough).toBe(false);
    expect(compareRates({ count: 0, of: 0 }, { count: 4, of: 50 })).toEqual({ a: 0, b: 0.08, confidence: 0.5, enough: false });
    expect(compareRates({ count: 0, of: 40 }, { count: 0, of: 40 }).confidence).toBe(0.5);
  });

  it('normalCdf agrees with the table', () => {
    expect(normalCdf(0)).toBeCloseTo(0.5, 7);
    expect(normalCdf(1.96)).toBeCloseTo(0.975, 4);
    expect(normalCdf(-1.6449)).toBeCloseTo(0.05, 4);
  });

  it('puts it in words', () => {
    const names = { a: 'Recipients', b: 'control group' };
    expect(compareInWords(names, compareRates({ count: 300, of: 2000 }, { count: 200, of: 2000 }))).toBe(
      'Recipients 15 %, control group 10 %: Recipients higher with 99 % confidence.',
    );
    expect(compareInWords(names, compareRates({ count: 101, of: 1000 }, { count: 100, of: 1000 }))).toBe(
      'Recipients 10.1 %, control group 10 %: no clear difference (52 % confidence that Recipients is higher).',
    );
    expect(compareInWords(names, compareRates({ count: 2, of: 20 }, { count: 0, of: 3 }))).toBe(
      'Recipients 10 %, control group 0 %: too few yet to tell them apart.',
    );
    expect(percent(0.0031)).toBe('0.31 %');
  });
});
