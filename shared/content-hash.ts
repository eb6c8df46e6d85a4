/** Content hashing: how a preparation knows it is stale. */

import type { Typology } from './typology';
import type { ContactHistoryEntry, DeliveryContent } from './types';

/**
 * Returns a 26-character hex digest of the delivery content, the typology's rules and the
 * replica it was prepared from (`replicaVersion`: the change cursor and the contact
 * history's stamp). Deterministic across browsers and Node (pure JS, no Web Crypto, so it
 * is synchronous).
 */
export function contentHash(content: DeliveryContent, typology: Typology, replicaVersion: string): string {
  const text = JSON.stringify([
    content.name,
    content.fromName,
    content.fromAddress,
    content.subject,
    content.html,
    content.audience,
    content.scheduledAt,
    content.typologyId,
    typology.id,
    typology.rules,
    replicaVersion,
    // Added later, and only when used: a delivery without them keeps the digest it had.
    ...(content.preheader ? [{ preheader: content.preheader }] : []),
    ...(content.text ? [{ text: content.text }] : []),
    ...(content.experiment ? [{ experiment: content.experiment }] : []),
    ...(content.localTime ? [{ localTime: content.localTime }] : []),
    ...(content.waves ? [{ waves: content.waves }] : []),
    ...(content.translations?.length ? [{ translations: content.translations }] : []),
    ...(content.seeds?.length || typology.seeds?.length ? [{ seeds: [typology.seeds ?? [], content.seeds ?? []] }] : []),
  ]);
  return hash53(text, 0x5eed).toString(16).padStart(14, '0') + hash53(text, 0xc0ffee).toString(16).padStart(14, '0').slice(2);
}

/** Returns a short digest of what pressure and capacity rules count: which deliveries, when, how many messages. */
export function historyStamp(entries: readonly ContactHistoryEntry[]): string {
  const parts = entries.map((e) => {
    let sum = 0;
    for (let i = 0; i < e.profileIds.length; i++) sum = (sum + e.profileIds[i] * (i + 1)) % 2_147_483_647;
    return `${e.deliveryId}@${e.at}#${e.profileIds.length}:${sum}`;
  });
  return hash53(parts.sort().join('|'), 7).toString(36);
}

// cyrb53: a fast 53-bit string hash with good dispersion; two seeds give 104 bits.
function hash53(text: string, seed: number): number {
  let h1 = 0xdeadbeef ^ seed;
  let h2 = 0x41c6ce57 ^ seed;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 2654435761);
    h2 = Math.imul(h2 ^ c, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return 4294967296 * (2097151 & h2) + (h1 >>> 0);
}
