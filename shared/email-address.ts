/** Email addresses: the one check used by preparation, import and sending. */

// A pragmatic form of RFC 5321: a dot-atom local part, and a domain of at least two
// labels whose last one is alphabetic. Quoted local parts are refused: no mailbox
// provider a marketer sends to issues them.
const ADDRESS = /^[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*@(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/i;

/** Returns the address trimmed and lower-cased: the form in which two addresses are compared. */
export function normalizeEmail(address: string): string {
  return address.trim().toLowerCase();
}

/** Returns true when the address can be sent to (syntax only, at most 254 characters). */
export function isValidEmail(address: string): boolean {
  return address.length <= 254 && ADDRESS.test(address);
}

/** Returns the domain part of a valid address. */
export function emailDomain(address: string): string {
  return address.slice(address.lastIndexOf('@') + 1);
}

const GMAIL = new Set(['gmail.com', 'googlemail.com']);

/**
 * Returns the mailbox an address delivers to, for finding duplicates: lower-cased, without
 * a "+tag" (anna+news@ and anna@ reach the same person), and for Gmail without dots in the
 * local part and with googlemail.com as gmail.com.
 */
export function mailboxKey(address: string): string {
  return mailboxOfNormalized(normalizeEmail(address));
}

/** As mailboxKey, for an address already normalized; returns the address itself when it is its own mailbox (the common case). */
function mailboxOfNormalized(normalized: string): string {
  const at = normalized.lastIndexOf('@');
  if (at < 1) return normalized;
  const plus = normalized.indexOf('+');
  if ((plus < 0 || plus > at) && !normalized.endsWith('@gmail.com') && !normalized.endsWith('@googlemail.com')) return normalized;
  let local = normalized.slice(0, at);
  let domain = normalized.slice(at + 1);
  const tag = local.indexOf('+');
  if (tag > 0) local = local.slice(0, tag);
  if (GMAIL.has(domain)) {
    local = local.replaceAll('.', '');
    domain = 'gmail.com';
  }
  return `${local}@${domain}`;
}
