/** The typologies as the app shows them, and the content hash a delivery would be prepared with now. */

import { contentHash } from '$shared/content-hash';
import type { Typology } from '$shared/typology';
import type { DeliveryContent } from '$shared/types';
import { db } from '../db/instance';
import { listTypologies } from '../db/typologies';
import { replica } from './app';
import { LiveQuery } from './live-query.svelte';
import { engagedVersion } from '$shared/engagement';

export const typologies = new LiveQuery<Typology[]>(() => listTypologies(db));

/** Returns the typology with this id, or undefined (deleted, or not loaded yet). */
export function typologyById(id: string): Typology | undefined {
  return typologies.current?.find((t) => t.id === id);
}

/**
 * Returns the hash a preparation of the content would have now; a preparation with another
 * hash is stale. A deleted typology makes any preparation stale.
 */
export function currentHash(content: DeliveryContent): string {
  const typology = typologyById(content.typologyId);
  const version = engagedVersion(replica.version, replica.engagementStamp, content.audience, typology);
  return typology ? contentHash(content, typology, version) : `missing typology ${content.typologyId}`;
}
