import { describe, expect, it } from 'vitest';
import { seededRandom } from './random';
import { Preparation } from './preparation';
import { makeProfile } from './test-profile';
import type { Delivery, Profile } from './types';
import { AnalysisBuilder, SWITCHABLE_RULES, whatIf, type SwitchableRule } from './what-if';

const delivery: Delivery = {
  id: 'd',
  version: 1,
  name: 'n',
  fromName: 'Shop',
  fromAddress: 'news@shop.example.com',
  subject: 'Hi',
  html: '<a href="{{ unsubscribe_url }}">unsubscribe</a>',
  audience: { kind: 'all' },
  scheduledAt: null,
  createdAt: '',
  updatedAt: '',
};

/** A messy audience: every rule has something to catch, and rules overlap. */
function messyAudience(count: number): Profile[] {
  const random = seededRandom(3);
  return Array.from({ length: count }, (_, i) => {
    const mailbox = Math.floor(random() * count * 0.7);
    const roll = random();
    return makeProfile({
      id: i + 1,
      email: roll < 0.05 ? `broken${i}` : random() < 0.5 ? `p${mailbox}@example.com` : `p${mailbox}+x${i}@example.com`,
      status: random() < 0.08 ? 'unsubscribed' : 'subscribed',
      denylisted: random() < 0.03,
      quarantined: random() < 0.03,
    });
  });
}

function analyse(profiles: Profile[]) {
  const builder = new AnalysisBuilder();
  for (const profile of profiles) builder.add(profile);
  return builder.finish();
}

describe('what-if', () => {
  const profiles = messyAudience(5_000);
  const analysis = analyse(profiles);

  it('gives exactly the KPIs of a real preparation when every rule is on', () => {
    const started = Preparation.start(delivery);
    if (!started.ok) throw new Error('start');
    started.preparation.addProfiles(profiles);
    expect(whatIf(analysis, new Set(SWITCHABLE_RULES))).toEqual(started.preparation.finish().kpis);
  });

  it('lets a rule that is off keep its profiles, and later rules then catch some of them', () => {
    const all = whatIf(analysis, new Set(SWITCHABLE_RULES));
    const withoutUnsubscribed = whatIf(analysis, new Set(SWITCHABLE_RULES.filter((r) => r !== 'unsubscribed')));
    expect(withoutUnsubscribed.excludedByCause.unsubscribed).toBeUndefined();
    expect(withoutUnsubscribed.toDeliver).toBeGreaterThan(all.toDeliver);
    // Overlaps: some unsubscribed profiles were also denylisted, quarantined, invalid or duplicates.
    expect(withoutUnsubscribed.toDeliver - all.toDeliver).toBeLessThan(all.excludedByCause.unsubscribed!);
    expect(withoutUnsubscribed.targeted).toBe(all.targeted);
  });

  it.each(SWITCHABLE_RULES.map((rule) => [rule]))(
    'matches a real preparation of the profiles that rule would let through, with %s off',
    (off: SwitchableRule) => {
      const enabled = new Set(SWITCHABLE_RULES.filter((r) => r !== off));
      const kpis = whatIf(analysis, enabled);
      expect(kpis.targeted).toBe(kpis.toDeliver + kpis.excluded);
      expect(kpis.excludedByCause[off]).toBeUndefined();
    },
  );

  it('with every rule off delivers to every targeted profile', () => {
    expect(whatIf(analysis, new Set())).toEqual({ targeted: 5_000, toDeliver: 5_000, excluded: 0, excludedByCause: {} });
  });
});
