import { describe, expect, it } from 'vitest';
import type { AudienceFilter } from './audience-filter';
import { makeProfile } from './test-profile';
import { explainProfile } from './why';

const schema = [
  { name: 'city', label: 'City', type: 'text' as const },
  { name: 'points', label: 'Points', type: 'number' as const },
];
const audience: AudienceFilter = {
  kind: 'and',
  conditions: [
    { kind: 'condition', field: 'city', operator: 'equals', value: 'Gent' },
    { kind: 'condition', field: 'points', operator: 'greaterThan', value: '100' },
  ],
};

describe('explainProfile', () => {
  it('names the condition that keeps a profile out of the audience, with its value', () => {
    const trace = explainProfile(audience, schema, makeProfile({ attributes: { city: 'Gent', points: 50 } }), false);
    expect(trace.inAudience).toBe(false);
    expect(trace.audience).toEqual([
      { text: 'All of these', passed: false, depth: 0 },
      { text: 'city equals "Gent"', passed: true, value: 'Gent', depth: 1 },
      { text: 'points is greater than "100"', passed: false, value: '50', depth: 1 },
    ]);
    expect(trace.outcome).toBe('Not targeted: the profile is not in the audience.');
  });

  it('gives every rule its verdict and the first that applies excludes', () => {
    const profile = makeProfile({
      email: 'x@example.com',
      status: 'unsubscribed',
      quarantined: true,
      attributes: { city: 'Gent', points: 500 },
    });
    const trace = explainProfile(audience, schema, profile, false);
    expect(trace.rules.map((r) => `${r.label}: ${r.applies}`)).toEqual([
      'Unsubscribed: true',
      'Denylisted: false',
      'Quarantined: true',
      'Invalid address: false',
      'Duplicate address: false',
    ]);
    expect(trace.excludedBy).toBe('unsubscribed');
    expect(trace.outcome).toBe('Excluded by the rule "Unsubscribed".');
  });

  it('says a profile receives the message, or is a duplicate when an earlier profile holds its mailbox', () => {
    const profile = makeProfile({ email: 'anna+news@example.com', attributes: { city: 'gent', points: 101 } });
    expect(explainProfile(audience, schema, profile, false).outcome).toBe('Receives the message.');
    expect(explainProfile(audience, schema, profile, true).excludedBy).toBe('duplicate-address');
  });
});
