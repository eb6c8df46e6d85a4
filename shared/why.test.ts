import { describe, expect, it } from 'vitest';
import type { AudienceFilter } from './audience-filter';
import { makeProfile } from './test-profile';
import { CompiledRules } from './recipient-rules';
import { DEFAULT_TYPOLOGY, recipientRules } from './typology';
import type { Exclusion, Profile } from './types';
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

const now = new Date('2026-11-28T10:00:00Z');
const rules = new CompiledRules(recipientRules(DEFAULT_TYPOLOGY), {
  deliveryId: 'd',
  sendAt: now,
  history: [{ deliveryId: 'earlier', at: '2026-11-27T10:00:00Z', profileIds: [42] }],
  schema,
  now,
});
const explain = (profile: Profile, exclusion?: Exclusion) => explainProfile(audience, schema, profile, rules, exclusion, now);

describe('explainProfile', () => {
  it('names the condition that keeps a profile out of the audience, with its value', () => {
    const trace = explain(makeProfile({ attributes: { city: 'Gent', points: 50 } }));
    expect(trace.inAudience).toBe(false);
    expect(trace.audience).toEqual([
      { text: 'All of these', group: 'and', passed: false, depth: 0 },
      {
        text: 'city equals "Gent"',
        condition: { kind: 'condition', field: 'city', operator: 'equals', value: 'Gent' },
        passed: true,
        value: 'Gent',
        depth: 1,
      },
      {
        text: 'points is greater than "100"',
        condition: { kind: 'condition', field: 'points', operator: 'greaterThan', value: '100' },
        passed: false,
        value: '50',
        depth: 1,
      },
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
    const trace = explain({ ...profile, id: 42 });
    expect(
      trace.rules.map((r) => `${r.kind} ${r.name}: ${r.applies}${r.enabled ? '' : ' (off)'}${r.detail ? ` (${r.detail})` : ''}`),
    ).toEqual([
      'Filtering Not confirmed yet: false',
      'Filtering Unsubscribed: true',
      'Filtering Denylisted: false',
      'Filtering Quarantined: true',
      'Filtering Invalid address: false',
      'Pressure At most 5 messages in 7 days: false (1 other message within 7 days (at most 5 with this one))',
      'Filtering Duplicate address: false',
      'Capacity At most 100,000 messages a day: false (off)',
    ]);
    expect(trace.excludedBy).toBe('Unsubscribed');
    expect(trace.outcome).toBe('Excluded by the rule "Unsubscribed".');
  });

  it('says a profile receives the message, or is a duplicate when an earlier profile holds its mailbox', () => {
    const profile = makeProfile({ email: 'anna+news@example.com', attributes: { city: 'gent', points: 101 } });
    expect(explain(profile).outcome).toBe('Receives the message.');
    const duplicate: Exclusion = { profileId: profile.id, email: profile.email, rule: 'Duplicate address', cause: 'duplicate-address' };
    expect(explain(profile, duplicate).excludedBy).toBe('Duplicate address');
  });
});
