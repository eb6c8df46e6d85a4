/** Email addresses: the one check used by preparation, import and sending. */

// A pragmatic form of RFC 5321 and its internationalized extensions, decided without any
// IDNA library, so that the browser (the replica's flags, the preparation) and the server
// (the import, the hand-off check) always agree:
// - the local part is a dot-atom of ASCII atext or, as RFC 6531 allows, of letters, marks
//   and digits of any script (`jörg@…`): such an address needs a relay that offers SMTPUTF8;
// - the domain has at least two labels of letters, marks and digits of any script and
//   hyphens (`пример.рф`, sent as punycode; `xn--…` A-labels are ASCII labels like any
//   other), none starting with a mark or a hyphen or ending with a hyphen, at most 63 each;
// - the last label is alphabetic: ASCII letters, an A-label (`xn--p1ai`), or letters and
//   marks of another script (`рф`).
// Quoted local parts are refused: no mailbox provider a marketer sends to issues them.
const ATOM = /^[a-z0-9!#$%&'*+/=?^_`{|}~\-\p{L}\p{M}\p{N}]+$/iu;
const LABEL = /^[\p{L}\p{N}](?:[\p{L}\p{M}\p{N}-]{0,61}[\p{L}\p{M}\p{N}])?$/iu;
const TOP_LABEL = /^(?:[a-z]{2,63}|xn--[a-z0-9-]{1,59}|\p{L}[\p{L}\p{M}]{1,62})$/iu;
const ASCII_LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const NON_ASCII = /[^\x00-\x7f]/; // eslint-disable-line no-control-regex -- ASCII is 0 to 127

/** Why an address cannot be sent through every relay: it is not one, or it needs SMTPUTF8. */
export const NOT_AN_ADDRESS = 'not a valid email address';
export const NEEDS_SMTPUTF8 = 'needs a relay that offers SMTPUTF8';
/** One of the two: the English phrase is also the code other languages translate by. */
export type AddressProblem = typeof NOT_AN_ADDRESS | typeof NEEDS_SMTPUTF8;

/** Returns the address trimmed, lower-cased and in Unicode NFC: the form in which two addresses are compared. */
export function normalizeEmail(address: string): string {
  const trimmed = address.trim().toLowerCase();
  return NON_ASCII.test(trimmed) ? trimmed.normalize('NFC') : trimmed;
}

/**
 * Returns true when the address is one (syntax only, at most 254 characters), domain names
 * in any script included. One with non-ASCII characters before the @ is an address too, but
 * only a relay that offers SMTPUTF8 takes it: see needsSmtputf8 and addressProblem.
 */
export function isValidEmail(address: string): boolean {
  if (address.length > 254) return false;
  const at = address.lastIndexOf('@');
  if (at < 1) return false;
  const local = address.slice(0, at).split('.');
  const labels = address.slice(at + 1).split('.');
  return (
    local.every((atom) => ATOM.test(atom)) &&
    labels.length >= 2 &&
    labels.every((label) => LABEL.test(label)) &&
    TOP_LABEL.test(labels[labels.length - 1])
  );
}

/** Returns true when the address has non-ASCII characters before the @: only a relay that offers SMTPUTF8 takes it (RFC 6531). */
export function needsSmtputf8(address: string): boolean {
  const at = address.lastIndexOf('@');
  return NON_ASCII.test(at < 0 ? address : address.slice(0, at));
}

/**
 * Returns why a message to the address cannot go through any relay — NOT_AN_ADDRESS, or
 * NEEDS_SMTPUTF8 for a non-ASCII local part — or null when it can (an international domain
 * name can: it is sent as punycode).
 */
export function addressProblem(address: string): AddressProblem | null {
  if (!isValidEmail(address)) return NOT_AN_ADDRESS;
  return needsSmtputf8(address) ? NEEDS_SMTPUTF8 : null;
}

/**
 * Returns the domain in ASCII, as the envelope, the headers and DNS carry it: an
 * international domain name as punycode (`пример.рф` → `xn--e1afmkfd.xn--p1ai`), lower-cased.
 * The WHATWG URL parser does the IDNA conversion, the same in browsers and Node. Throws, with
 * a sentence, when the name has no ASCII form.
 */
export function asciiDomain(domain: string): string {
  let ascii = domain.toLowerCase();
  if (NON_ASCII.test(ascii)) {
    try {
      ascii = new URL(`http://${domain}`).hostname;
    } catch {
      ascii = '';
    }
  }
  const labels = ascii.split('.');
  if (ascii.length > 253 || labels.length < 2 || !labels.every((label) => ASCII_LABEL.test(label))) {
    throw new Error(`the domain "${domain}" has no valid ASCII (punycode) form`);
  }
  return ascii;
}

/** Returns the address with its domain in ASCII (asciiDomain); the local part as it is. Throws when the domain has no ASCII form. */
export function asciiEmail(address: string): string {
  const at = address.lastIndexOf('@');
  if (at < 0 || !NON_ASCII.test(address.slice(at + 1))) return address;
  return `${address.slice(0, at)}@${asciiDomain(address.slice(at + 1))}`;
}

/** Returns the domain part of a valid address. */
export function emailDomain(address: string): string {
  return address.slice(address.lastIndexOf('@') + 1);
}

const GMAIL = new Set(['gmail.com', 'googlemail.com']);

/**
 * Returns the mailbox an address delivers to, for finding duplicates: lower-cased, without
 * a "+tag" (anna+news@ and anna@ reach the same person), for Gmail without dots in the
 * local part and with googlemail.com as gmail.com, and with an international domain name
 * in punycode (anna@пример.рф and anna@xn--e1afmkfd.xn--p1ai are one mailbox).
 */
export function mailboxKey(address: string): string {
  return mailboxOfNormalized(normalizeEmail(address));
}

/** As mailboxKey, for an address already normalized; returns the address itself when it is its own mailbox (the common case). */
function mailboxOfNormalized(normalized: string): string {
  const at = normalized.lastIndexOf('@');
  if (at < 1) return normalized;
  const plus = normalized.indexOf('+');
  const international = NON_ASCII.test(normalized.slice(at + 1));
  if ((plus < 0 || plus > at) && !international && !normalized.endsWith('@gmail.com') && !normalized.endsWith('@googlemail.com'))
    return normalized;
  let local = normalized.slice(0, at);
  let domain = normalized.slice(at + 1);
  const tag = local.indexOf('+');
  if (tag > 0) local = local.slice(0, tag);
  if (international) {
    try {
      domain = asciiDomain(domain);
    } catch {
      // No ASCII form: such an address is invalid, and an invalid address has no mailbox to share.
    }
  }
  if (GMAIL.has(domain)) {
    local = local.replaceAll('.', '');
    domain = 'gmail.com';
  }
  return `${local}@${domain}`;
}
