/**
 * The per-message return path (VERP): the envelope sender of each message names its journal
 * row, signed, on the bounce domain — `bounce-<row>-<mac>@bounces.example.com` — so a bounce
 * that arrives days later names its recipient exactly, whatever the report says of the
 * address. The row is in base 36 and the MAC is 12 hex digits of an HMAC-SHA256 with the
 * server's secret: a local part of at most 30 characters (RFC 5321 allows 64).
 */

import { createHmac, timingSafeEqual } from 'node:crypto';

const PREFIX = 'bounce-';

const mac = (secret: string, row: string) => createHmac('sha256', secret).update(`verp.${row}`).digest('hex').slice(0, 12);

/** Returns the return path of the message of this journal row. */
export function bounceAddress(journalId: number, domain: string, secret: string): string {
  const row = journalId.toString(36);
  return `${PREFIX}${row}-${mac(secret, row)}@${domain}`;
}

/** Returns the journal row a return path names, or null when it is not one this server signed. */
export function journalOfBounceAddress(address: string, secret: string): number | null {
  const match = /^bounce-([0-9a-z]{1,12})-([0-9a-f]{12})@/i.exec(address.trim());
  if (!match) return null;
  const row = match[1].toLowerCase();
  const given = Buffer.from(match[2].toLowerCase());
  if (!timingSafeEqual(given, Buffer.from(mac(secret, row)))) return null;
  const id = parseInt(row, 36);
  return Number.isSafeInteger(id) && id > 0 ? id : null;
}
