/**
 * Signed tokens of the subscriber's side: a form's load time (the bot check), a consent to
 * confirm, and a recipient's access to their own data. Each is an HMAC-SHA256 over what it is
 * for, whom it names and when it was made, with a key of its own (derived from the server's
 * secret), so that no tracking token passes for one of these or the other way round.
 */

import { createHmac, timingSafeEqual } from 'node:crypto';

export type SubscriberTokenKind = 'form' | 'confirm' | 'access';

export interface SubscriberTokens {
  sign(kind: SubscriberTokenKind, subject: string, at: Date): string;
  /** Returns whom a token names and when it was made, or null for a token that is not one of ours for `kind`. */
  verify(token: string, kind: SubscriberTokenKind): { subject: string; at: number } | null;
}

const MAC_BYTES = 18;

export function createSubscriberTokens(secret: string): SubscriberTokens {
  const key = createHmac('sha256', secret).update('mailroom subscriber tokens').digest();
  const mac = (payload: string) => createHmac('sha256', key).update(payload).digest().subarray(0, MAC_BYTES);
  return {
    sign(kind, subject, at) {
      const payload = `${kind}.${at.getTime().toString(36)}.${subject}`;
      return `${Buffer.from(payload).toString('base64url')}.${mac(payload).toString('base64url')}`;
    },
    verify(token, kind) {
      const [encoded, signature, extra] = String(token).split('.');
      if (!encoded || !signature || extra !== undefined) return null;
      const payload = Buffer.from(encoded, 'base64url').toString();
      const given = Buffer.from(signature, 'base64url');
      // One spelling per token: base64 that decodes to the same bytes with a character more or less is not it.
      if (given.length !== MAC_BYTES || given.toString('base64url') !== signature || !timingSafeEqual(given, mac(payload))) return null;
      const [k, at, ...rest] = payload.split('.');
      const time = parseInt(at ?? '', 36);
      if (k !== kind || !Number.isFinite(time) || rest.length === 0) return null;
      return { subject: rest.join('.'), at: time };
    },
  };
}
