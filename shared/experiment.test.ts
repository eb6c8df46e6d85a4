import { describe, expect, it } from 'vitest';
import { decideWinner, experimentProblem, standing, testSize, variantContent, type VariantFigures } from './experiment';

const f = (variant: number, delivered: number, clicked: number, extra: Partial<VariantFigures> = {}): VariantFigures => ({
  variant,
  delivered,
  opened: clicked,
  clicked,
  unsubscribed: 0,
  ...extra,
});

describe('experiments', () => {
  it('says which variant leads with the confidence of the two-proportion test', () => {
    // B 120 of 1,000 against A 95 of 1,000: z = 1.8047, Φ(z) = 0.9644 (worked in stats.test.ts).
    const s = standing('clicks', [f(0, 1000, 95), f(1, 1000, 120)]);
    expect(s.leader).toBe(1);
    expect(s.against[0].variant).toBe(0);
    expect(s.against[0].confidence).toBeCloseTo(0.96444, 4);
    expect(s.clear).toBe(true);
    expect(s.statement).toBe('B beats A with 96 % confidence (A 9.5 %, B 12 %).');
    expect(decideWinner('clicks', [f(0, 1000, 95), f(1, 1000, 120)])).toEqual({
      winner: 1,
      reason: 'B won by unique clicks: B beats A with 96 % confidence (A 9.5 %, B 12 %).',
    });
  });

  it('sends the first variant when none is clearly better, and says so; too small a test cannot tell', () => {
    expect(decideWinner('clicks', [f(0, 1000, 100), f(1, 1000, 110)]).winner).toBe(0);
    expect(decideWinner('clicks', [f(0, 1000, 100), f(1, 1000, 110)]).reason).toMatch(
      /^No variant was clearly better by unique clicks, so the first \(A\) is sent: B beats A with 7\d % confidence/,
    );
    const small = standing('clicks', [f(0, 10, 1), f(1, 10, 4)]);
    expect(small).toMatchObject({ leader: 1, clear: false, enough: false });
    expect(small.statement).toBe('Too few yet to tell the variants apart (A 10 %, B 40 %).');
    // With three, the leader must beat both: clearly ahead of A but not of C, it does not win.
    expect(decideWinner('clicks', [f(0, 1000, 60), f(1, 1000, 130), f(2, 1000, 125)]).winner).toBe(0);
    expect(decideWinner('clicks', [f(0, 1000, 60), f(1, 1000, 130), f(2, 1000, 70)]).winner).toBe(1);
  });

  it('the lowest unsubscribe rate wins by that criterion', () => {
    const figures = [f(0, 2000, 0, { unsubscribed: 60 }), f(1, 2000, 0, { unsubscribed: 20 })];
    expect(decideWinner('unsubscribes', figures).winner).toBe(1);
    expect(standing('unsubscribes', figures).statement).toMatch(/^B beats A with 99 % confidence/);
  });

  it('a variant changes only what it names; the test size follows To deliver', () => {
    const content = { subject: 'S', fromName: 'Shop', preheader: 'P', html: '<p>A</p>' };
    const experiment = { variants: [{ subject: 'S2' }], test: { percent: 10 }, criterion: 'opens' as const, waitHours: 2 };
    expect(variantContent(content, experiment, 1)).toEqual({ ...content, subject: 'S2' });
    expect(variantContent(content, experiment, 0)).toBe(content);
    expect(testSize(experiment, 1234)).toBe(123);
    expect(testSize({ ...experiment, test: { count: 500 } }, 100)).toBe(100);
    expect(experimentProblem({ ...experiment, variants: [] })).toBe('An A/B test has 2 to 5 variants: add a variant B, or remove some.');
    expect(experimentProblem(experiment)).toBeNull();
  });
});
