/**
 * Signed tracking tokens. A token names what it is for (open, click, unsubscribe), the
 * delivery, the journal row and, for a click, the link; an HMAC-SHA256 over all of it makes
 * any change detectable. Tokens carry ids only: the click's URL comes from the link table.
 */

import { createHmac, timingSafeEqual } from 'node:crypto';

export type TokenPurpose = 'o' | 'c' | 'u';

export interface TokenClaims {
  purpose: TokenPurpose;
  deliveryId: string;
  journalId: number;
  linkId?: number;
}

export interface TokenSigner {
  sign(claims: TokenClaims): string;
  /** Returns the claims of a token this signer made, or null for anything else. */
  verify(token: string, purpose: TokenPurpose): TokenClaims | null;
}

const MAC_BYTES = 16;

export function createTokenSigner(secret: string): TokenSigner {
  const mac = (payload: string) => createHmac('sha256', secret).update(payload).digest().subarray(0, MAC_BYTES);
  return {
    sign(claims) {
      const payload = [claims.purpose, claims.deliveryId, claims.journalId, claims.linkId ?? ''].join('.');
      return `${Buffer.from(payload).toString('base64url')}.${mac(payload).toString('base64url')}`;
    },
    verify(token, purpose) {
      const [encoded, signature, extra] = token.split('.');
      if (!encoded || !signature || extra !== undefined) return null;
      const payload = Buffer.from(encoded, 'base64url').toString();
      const given = Buffer.from(signature, 'base64url');
      if (given.length !== MAC_BYTES || !timingSafeEqual(given, mac(payload))) return null;
      const [p, deliveryId, journalId, linkId] = payload.split('.');
      if (p !== purpose || !deliveryId || !/^\d+$/.test(journalId ?? '')) return null;
      if (purpose === 'c' && !/^\d+$/.test(linkId ?? '')) return null;
      return { purpose, deliveryId, journalId: Number(journalId), linkId: purpose === 'c' ? Number(linkId) : undefined };
    },
  };
}
