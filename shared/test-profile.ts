/** A profile for tests: every field filled with a neutral value, then the given changes. */

import type { Profile } from './types';

let next = 1;

export function makeProfile(change: Partial<Profile> = {}): Profile {
  const id = change.id ?? next++;
  return {
    id,
    email: `person${id}@example.com`,
    firstName: '',
    lastName: '',
    locale: '',
    timeZone: '',
    status: 'subscribed',
    statusChangedAt: null,
    statusSource: null,
    denylisted: false,
    quarantined: false,
    attributes: {},
    createdAt: '2026-01-01T00:00:00Z',
    updatedAt: '2026-01-01T00:00:00Z',
    ...change,
  };
}
