/**
 * The audience replica, packed. One IndexedDB record per profile writes at a few thousand a
 * second; a million profiles would take minutes to load and seconds to scan. So profiles
 * live in blocks of consecutive ids (BLOCK_SPAN ids a block, about as many profiles),
 * column by column. A change page touches a few blocks; a scan reads a few hundred records.
 */

import type { AttributeValue, Profile, SubscriptionStatus } from '$shared/types';

/** Ids per block: profile `id` lives in block `Math.floor(id / BLOCK_SPAN)`. */
export const BLOCK_SPAN = 8192;

/** One block: parallel columns, sorted by id. Attributes are one column per attribute name. */
export interface ProfileBlock {
  n: number;
  ids: number[];
  email: string[];
  firstName: string[];
  lastName: string[];
  locale: string[];
  timeZone: string[];
  /** 1 for unsubscribed, 0 for subscribed. */
  unsubscribed: number[];
  statusChangedAt: (string | null)[];
  statusSource: (string | null)[];
  denylisted: number[];
  quarantined: number[];
  createdAt: string[];
  updatedAt: string[];
  attributes: Record<string, AttributeValue[]>;
}

export const blockOf = (id: number) => Math.floor(id / BLOCK_SPAN);

export function emptyBlock(n: number): ProfileBlock {
  return {
    n,
    ids: [],
    email: [],
    firstName: [],
    lastName: [],
    locale: [],
    timeZone: [],
    unsubscribed: [],
    statusChangedAt: [],
    statusSource: [],
    denylisted: [],
    quarantined: [],
    createdAt: [],
    updatedAt: [],
    attributes: {},
  };
}

const COLUMNS = [
  'ids',
  'email',
  'firstName',
  'lastName',
  'locale',
  'timeZone',
  'unsubscribed',
  'statusChangedAt',
  'statusSource',
  'denylisted',
  'quarantined',
  'createdAt',
  'updatedAt',
] as const;

/** Returns the position of `id` in the block, or -(insertion point) - 1 when it is not there. */
export function indexOf(block: ProfileBlock, id: number): number {
  let low = 0;
  let high = block.ids.length - 1;
  while (low <= high) {
    const mid = (low + high) >>> 1;
    const value = block.ids[mid];
    if (value === id) return mid;
    if (value < id) low = mid + 1;
    else high = mid - 1;
  }
  return -low - 1;
}

/** Returns the profile at position `i` of the block. */
export function profileAt(block: ProfileBlock, i: number): Profile {
  const attributes: Record<string, AttributeValue> = {};
  for (const name in block.attributes) {
    const value = block.attributes[name][i];
    if (value !== null && value !== undefined) attributes[name] = value;
  }
  return {
    id: block.ids[i],
    email: block.email[i],
    firstName: block.firstName[i],
    lastName: block.lastName[i],
    locale: block.locale[i],
    timeZone: block.timeZone[i],
    status: (block.unsubscribed[i] ? 'unsubscribed' : 'subscribed') as SubscriptionStatus,
    statusChangedAt: block.statusChangedAt[i],
    statusSource: block.statusSource[i],
    denylisted: block.denylisted[i] === 1,
    quarantined: block.quarantined[i] === 1,
    attributes,
    createdAt: block.createdAt[i],
    updatedAt: block.updatedAt[i],
  };
}

/** Returns every profile of the block, in id order. */
export function profilesOf(block: ProfileBlock): Profile[] {
  const out = new Array<Profile>(block.ids.length);
  for (let i = 0; i < block.ids.length; i++) out[i] = profileAt(block, i);
  return out;
}

/** Writes the profile into the block (replacing the one with its id); returns +1 when it was added. */
export function putProfile(block: ProfileBlock, profile: Profile): number {
  const found = indexOf(block, profile.id);
  const at = found >= 0 ? found : -found - 1;
  const row = {
    ids: profile.id,
    email: profile.email,
    firstName: profile.firstName,
    lastName: profile.lastName,
    locale: profile.locale,
    timeZone: profile.timeZone,
    unsubscribed: profile.status === 'unsubscribed' ? 1 : 0,
    statusChangedAt: profile.statusChangedAt,
    statusSource: profile.statusSource,
    denylisted: profile.denylisted ? 1 : 0,
    quarantined: profile.quarantined ? 1 : 0,
    createdAt: profile.createdAt,
    updatedAt: profile.updatedAt,
  };
  const length = block.ids.length;
  for (const column of COLUMNS) {
    const values = block[column] as unknown[];
    if (found >= 0) values[at] = row[column];
    else values.splice(at, 0, row[column]);
  }
  for (const name of new Set([...Object.keys(block.attributes), ...Object.keys(profile.attributes)])) {
    let values = block.attributes[name];
    if (!values) values = block.attributes[name] = new Array<AttributeValue>(length).fill(null);
    const value = profile.attributes[name] ?? null;
    if (found >= 0) values[at] = value;
    else values.splice(at, 0, value);
  }
  return found >= 0 ? 0 : 1;
}

/** Removes the profile with this id from the block; returns 1 when it was there. */
export function removeProfile(block: ProfileBlock, id: number): number {
  const at = indexOf(block, id);
  if (at < 0) return 0;
  for (const column of COLUMNS) (block[column] as unknown[]).splice(at, 1);
  for (const name in block.attributes) block.attributes[name].splice(at, 1);
  return 1;
}
