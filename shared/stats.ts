/**
 * Comparing two groups' rates (a control group against the recipients; later, variants):
 * a two-proportion z-test, stated as the confidence that one rate is higher than the other,
 * and whether the groups are large enough for it to mean anything.
 */

export interface Rate {
  /** People who did it. */
  count: number;
  /** People in the group. */
  of: number;
}

export interface Comparison {
  /** The rates as fractions (0 for an empty group). */
  a: number;
  b: number;
  /** The confidence (0 to 1) that group a's true rate is higher than group b's; 0.5 when nothing tells them apart. */
  confidence: number;
  /** False while either group is too small, or too few did it, for the confidence to hold (see TOO_SMALL). */
  enough: boolean;
}

/**
 * The test needs about five people doing it and five not in each group (the normal
 * approximation's usual condition); below that the figure is shown, not trusted.
 */
export const TOO_SMALL = 5;

/** Returns group a's rate against group b's. */
export function compareRates(a: Rate, b: Rate): Comparison {
  const pa = a.of > 0 ? a.count / a.of : 0;
  const pb = b.of > 0 ? b.count / b.of : 0;
  const enough = [a, b].every((g) => g.count >= TOO_SMALL && g.of - g.count >= TOO_SMALL);
  if (a.of === 0 || b.of === 0) return { a: pa, b: pb, confidence: 0.5, enough: false };
  const pooled = (a.count + b.count) / (a.of + b.of);
  const se = Math.sqrt(pooled * (1 - pooled) * (1 / a.of + 1 / b.of));
  const confidence = se === 0 ? 0.5 : normalCdf((pa - pb) / se);
  return { a: pa, b: pb, confidence, enough };
}

/** The standard normal distribution function, from erf (Abramowitz and Stegun 7.1.26: within 1.5e-7). */
export function normalCdf(z: number): number {
  const x = Math.abs(z) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * x);
  const poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  const erf = 1 - poly * Math.exp(-x * x);
  return z >= 0 ? (1 + erf) / 2 : (1 - erf) / 2;
}

/** A fraction as a percentage for people: "12.5 %", "0.31 %" below 1 %. */
export function percent(fraction: number): string {
  const value = fraction * 100;
  return `${value.toLocaleString('en-US', { maximumFractionDigits: value !== 0 && value < 1 ? 2 : 1 })} %`;
}

/**
 * Says in words what a comparison shows: "Recipients 12.0 %, control group 9.5 %: higher
 * with 97 % confidence", or that the groups are too small to tell.
 */
export function compareInWords(names: { a: string; b: string }, c: Comparison): string {
  const rates = `${names.a} ${percent(c.a)}, ${names.b} ${percent(c.b)}`;
  if (!c.enough) return `${rates}: too few yet to tell them apart.`;
  const higher = c.confidence >= 0.5;
  const confidence = Math.floor((higher ? c.confidence : 1 - c.confidence) * 100);
  if (confidence < 90) return `${rates}: no clear difference (${confidence} % confidence that ${higher ? names.a : names.b} is higher).`;
  return `${rates}: ${higher ? names.a : names.b} higher with ${confidence} % confidence.`;
}
