import { describe, expect, it } from 'vitest';
import { emailDomain, isValidEmail, mailboxKey, normalizeEmail } from './email-address';

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
    [`${'a'.repeat(250)}@example.com`, false],
  ])('%s → %s', (address, valid) => {
    expect(isValidEmail(address)).toBe(valid);
  });

  it('normalizes for comparison', () => {
    expect(normalizeEmail('  Anna@Example.COM ')).toBe('anna@example.com');
    expect(emailDomain('anna@example.com')).toBe('example.com');
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
  ])('%s → %s', (address, key) => {
    expect(mailboxKey(address)).toBe(key);
  });
});
