/**
 * The demo audience: 10,000 generated profiles, the same on every machine (a seeded PRNG),
 * with the share of trouble a real list has: about 4% unsubscribed, 2% invalid addresses
 * and 2% duplicates of an earlier address written differently.
 */

import type { NewProfile } from './store/audience-store';

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
const LOCALES = ['nl', 'nl', 'nl', 'en', 'fr', 'de'];
const DOMAINS = ['example.com', 'example.org', 'example.net', 'mail.example', 'post.example'];

/** Returns a deterministic pseudo-random generator in [0, 1) (mulberry32). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Returns `count` demo profiles; the same `seed` gives the same profiles. */
export function demoProfiles(count = 10_000, seed = 20261128): NewProfile[] {
  const random = seededRandom(seed);
  const pick = <T>(list: readonly T[]) => list[Math.floor(random() * list.length)];
  const profiles: NewProfile[] = [];
  for (let i = 0; i < count; i++) {
    const firstName = random() < 0.03 ? '' : pick(FIRST);
    const lastName = pick(LAST);
    const local = `${(firstName || 'klant')
      .toLowerCase()
      .normalize('NFD')
      .replace(/[^a-z]/g, '')}.${lastName.toLowerCase().replace(/[^a-z]/g, '')}${i}`;
    let email = `${local}@${pick(DOMAINS)}`;
    const roll = random();
    if (roll < 0.02) email = pick([`${local}.${pick(DOMAINS)}`, `${local}@`, `${local}@@${pick(DOMAINS)}`, `${local} @${pick(DOMAINS)}`]);
    else if (roll < 0.04 && profiles.length > 0) {
      const earlier = profiles[Math.floor(random() * profiles.length)].email;
      email = random() < 0.5 ? earlier.toUpperCase() : ` ${earlier}`;
    }
    profiles.push({
      email,
      firstName,
      lastName,
      locale: pick(LOCALES),
      city: pick(CITIES),
      status: random() < 0.04 ? 'unsubscribed' : 'subscribed',
    });
  }
  return profiles;
}
