import { describe, expect, it } from 'vitest';
import {
  addressProblem,
  asciiDomain,
  asciiEmail,
  emailDomain,
  isValidEmail,
  mailboxKey,
  needsSmtputf8,
  normalizeEmail,
  NEEDS_SMTPUTF8,
  NOT_AN_ADDRESS,
} from './email-address';

describe('isValidEmail', () => {
  it.each([
    ['anna@example.com', true],
    ['anna.de.vries+news@mail.example.org', true],
    ["o'brien@example.ie", true],
    ['anna@example', false],
    ['anna.example.com', false],
    ['anna@', false],
    ['@example.com', false],
    ['anna@@example.com', false],
    ['anna @example.com', false],
    ['anna..x@example.com', false],
    ['anna@-example.com', false],
    ['anna@example-.com', false],
    ['anna@example..com', false],
    ['anna@example.c0m', false],
    [`${'a'.repeat(250)}@example.com`, false],
    // International domain names, in Unicode or as punycode (A-labels), top-level domain included.
    ['anna@пример.рф', true],
    ['anna@example.xn--p1ai', true],
    ['anna@xn--e1afmkfd.xn--p1ai', true],
    ['anna@bücher.de', true],
    ['anna@例え.テスト', true],
    ['ANNA@ПРИМЕР.РФ', true],
    ['anna@пример.р', false],
    ['anna@\u0301пример.рф', false],
    ['anna@пример\u3002рф', false],
    ['anna@пример.рф/x', false],
    // A non-ASCII local part is an address (RFC 6531), for a relay that offers SMTPUTF8.
    ['jörg@example.de', true],
    ['jörg..x@example.de', false],
  ])('%s → %s', (address, valid) => {
    expect(isValidEmail(address)).toBe(valid);
  });

  it('normalizes for comparison: trimmed, lower-cased, composed', () => {
    expect(normalizeEmail('  Anna@Example.COM ')).toBe('anna@example.com');
    expect(normalizeEmail('ANNA@ПРИМЕР.РФ')).toBe('anna@пример.рф');
    expect(normalizeEmail('jo\u0308rg@example.de')).toBe('jörg@example.de');
    expect(emailDomain('anna@example.com')).toBe('example.com');
  });
});

describe('what a relay needs', () => {
  it.each([
    ['anna@example.com', null, false],
    ['anna@пример.рф', null, false],
    ['jörg@example.de', NEEDS_SMTPUTF8, true],
    ['jörg@пример.рф', NEEDS_SMTPUTF8, true],
    ['broken-address', NOT_AN_ADDRESS, false],
  ])('%s: %s', (address, problem, smtputf8) => {
    expect(addressProblem(address)).toBe(problem);
    expect(needsSmtputf8(address)).toBe(smtputf8);
  });

  it('says it with the exact reason', () => {
    expect(addressProblem('jörg@example.de')).toBe('needs a relay that offers SMTPUTF8');
  });

  it('writes an international domain name in punycode, as the envelope and headers carry it', () => {
    expect(asciiEmail('anna@пример.рф')).toBe('anna@xn--e1afmkfd.xn--p1ai');
    expect(asciiEmail('anna@bücher.de')).toBe('anna@xn--bcher-kva.de');
    expect(asciiEmail('anna@example.xn--p1ai')).toBe('anna@example.xn--p1ai');
    expect(asciiEmail('jörg@пример.рф')).toBe('jörg@xn--e1afmkfd.xn--p1ai');
    expect(asciiEmail('anna@example.com')).toBe('anna@example.com');
    expect(asciiDomain('Example.COM')).toBe('example.com');
    expect(() => asciiDomain('\u0301x.com')).toThrow('the domain "\u0301x.com" has no valid ASCII (punycode) form');
  });
});

describe('mailboxKey', () => {
  it.each([
    ['Anna@Example.com', 'anna@example.com'],
    ['anna+news@example.com', 'anna@example.com'],
    ['a.n.na+x@gmail.com', 'anna@gmail.com'],
    ['anna@googlemail.com', 'anna@gmail.com'],
    ['a.nna@example.com', 'a.nna@example.com'],
    ['+anna@example.com', '+anna@example.com'],
    ['anna@пример.рф', 'anna@xn--e1afmkfd.xn--p1ai'],
    ['anna+x@xn--e1afmkfd.xn--p1ai', 'anna@xn--e1afmkfd.xn--p1ai'],
  ])('%s → %s', (address, key) => {
    expect(mailboxKey(address)).toBe(key);
  });
});
