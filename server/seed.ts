/**
 * The demo audience: 10,000 generated profiles, the same on every machine (a seeded PRNG),
 * with the trouble a real list has: about 4% unsubscribed, 2% invalid addresses, 2% second
 * addresses of a mailbox already in the list (anna+news@, a.nna@gmail), and a few
 * denylisted and quarantined addresses.
 */

import { normalizeEmail } from '../shared/email-address';
import type { AudienceStore, ProfileInput, SeedMarks, SeedRemoval } from './store/audience';
import { seededRandom } from '../shared/random';
import type { AttributeDefinition } from '../shared/types';

export { seededRandom };

const FIRST = [
  'Anna',
  'Bram',
  'Chloé',
  'Daan',
  'Emma',
  'Finn',
  'Guus',
  'Hanna',
  'Isa',
  'Jesse',
  'Julia',
  'Lars',
  'Lotte',
  'Mila',
  'Noah',
  'Sanne',
  'Sem',
  'Tess',
  'Zoë',
  'Luuk',
];
const LAST = [
  'de Jong',
  'Jansen',
  'de Vries',
  'van den Berg',
  'Bakker',
  'Visser',
  'Smit',
  'Meijer',
  'de Boer',
  'Mulder',
  "O'Brien",
  'Dubois',
  'Peeters',
  'Müller',
];
const CITIES = ['Amsterdam', 'Rotterdam', 'Utrecht', 'Eindhoven', 'Groningen', 'Antwerpen', 'Gent', 'Brussel', 'Leiden', 'Haarlem'];
const LOCALES: [string, string][] = [
  ['nl', 'Europe/Amsterdam'],
  ['nl', 'Europe/Amsterdam'],
  ['nl', 'Europe/Brussels'],
  ['en', 'Europe/London'],
  ['fr', 'Europe/Brussels'],
  ['de', 'Europe/Berlin'],
];
const DOMAINS = ['example.com', 'example.org', 'example.net', 'gmail.com', 'post.example'];
const INTERESTS = ['shoes', 'coats', 'sale', 'kids', 'outdoor', 'home'];

/** The custom attributes of the demo audience. */
export const DEMO_SCHEMA: AttributeDefinition[] = [
  { name: 'city', label: 'City', type: 'text' },
  { name: 'loyalty_points', label: 'Loyalty points', type: 'number' },
  { name: 'vip', label: 'VIP', type: 'boolean' },
  { name: 'birth_date', label: 'Birth date', type: 'date' },
  { name: 'interests', label: 'Interests', type: 'tags' },
];

export interface DemoAudience {
  profiles: ProfileInput[];
  denylisted: string[];
  quarantined: string[];
}

/** Returns `count` demo profiles and the addresses to suppress; the same `seed` gives the same audience. */
export function demoAudience(count = 10_000, seed = 20261128): DemoAudience {
  const random = seededRandom(seed);
  const pick = <T>(list: readonly T[]) => list[Math.floor(random() * list.length)];
  const profiles: ProfileInput[] = [];
  const denylisted: string[] = [];
  const quarantined: string[] = [];
  for (let i = 0; i < count; i++) {
    const firstName = random() < 0.03 ? '' : pick(FIRST);
    const lastName = pick(LAST);
    const local = `${(firstName || 'klant')
      .toLowerCase()
      .normalize('NFD')
      .replace(/[^a-z]/g, '')}.${lastName.toLowerCase().replace(/[^a-z]/g, '')}${i}`;
    let email = `${local}@${pick(DOMAINS)}`;
    const roll = random();
    if (roll < 0.02) email = pick([`${local}.${pick(DOMAINS)}`, `${local}@`, `${local}@@${pick(DOMAINS)}`, `${local}@${pick(DOMAINS)}.`]);
    else if (roll < 0.04 && profiles.length > 0) {
      // A second address of a mailbox already in the list.
      const earlier = profiles[Math.floor(random() * profiles.length)].email;
      const [user, domain] = earlier.split('@');
      email = domain === 'gmail.com' && user.includes('.') ? `${user.replace('.', '')}@gmail.com` : `${user}+news${i}@${domain}`;
    }
    const [locale, timeZone] = pick(LOCALES);
    const year = 1950 + Math.floor(random() * 55);
    const birth = `${year}-${String(1 + Math.floor(random() * 12)).padStart(2, '0')}-${String(1 + Math.floor(random() * 28)).padStart(2, '0')}`;
    profiles.push({
      email,
      firstName,
      lastName,
      locale,
      timeZone,
      status: random() < 0.04 ? 'unsubscribed' : 'subscribed',
      attributes: {
        city: pick(CITIES),
        loyalty_points: Math.floor(random() * 5000),
        vip: random() < 0.1,
        birth_date: birth,
        interests: INTERESTS.filter(() => random() < 0.25),
      },
    });
    const suppress = random();
    if (suppress < 0.005) denylisted.push(email);
    else if (suppress < 0.01) quarantined.push(email);
  }
  return { profiles, denylisted, quarantined };
}

/**
 * How the demo marks what it writes. Its profiles carry `imported_by = 'demo'` (those seeded
 * before this mark existed carry none); an import of the operator's that updates one of them
 * writes its own import id there, and that profile is the operator's from then on.
 */
export const DEMO_MARKS: SeedMarks = {
  marker: 'demo',
  denylistedBy: 'demo',
  quarantineReply: '550 5.1.1 User unknown (demo)',
};

/** Fills an empty audience of record with the demo audience. */
export async function seedDemoAudience(audience: AudienceStore, now: Date): Promise<void> {
  const demo = demoAudience();
  for (const attribute of DEMO_SCHEMA) await audience.declareAttribute(attribute);
  await audience.upsertMany(demo.profiles, 'demo', now, DEMO_MARKS.marker);
  for (const email of demo.denylisted) await audience.denylist(email, 'Asked not to be contacted (demo)', DEMO_MARKS.denylistedBy, now);
  for (const email of demo.quarantined) await audience.quarantine(email, 'hard-bounce', DEMO_MARKS.quarantineReply, null, now);
}

let addresses: string[] | undefined;
/** Returns the addresses of the demo audience, normalized as the audience stores them: the same on every machine (the seed is deterministic). */
export function demoAddresses(): string[] {
  addresses ??= demoAudience().profiles.map((p) => normalizeEmail(p.email));
  return addresses;
}

/** Returns how many profiles of the demo audience are still in the audience (not updated by an import since). */
export function demoProfilesLeft(audience: AudienceStore): Promise<number> {
  return audience.countSeeded(demoAddresses(), DEMO_MARKS);
}

/**
 * Removes the demo audience in one transaction: every profile at one of the demo's addresses
 * that no import of the operator's has written since the seed (those are kept), the demo's
 * denylist and quarantine entries for them, and each attribute of DEMO_SCHEMA that no
 * remaining profile has a value for. Replicas hear of it at their next pull (tombstones, and
 * the schema they pull with every page). Returns what was removed and kept.
 */
export function removeDemoAudience(audience: AudienceStore): Promise<SeedRemoval> {
  return audience.removeSeeded(
    demoAddresses(),
    DEMO_MARKS,
    DEMO_SCHEMA.map((a) => a.name),
  );
}
