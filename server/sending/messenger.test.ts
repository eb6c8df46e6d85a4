import { describe, expect, it } from 'vitest';
import { classifyFailure, relayTransportOptions, unreachable } from './messenger';

describe('classifyFailure', () => {
  it.each([
    [{ responseCode: 421, response: '421 4.7.0 Too many connections' }, 'retry'],
    [{ responseCode: 451, response: '451 4.3.0 Temporary failure' }, 'retry'],
    [{ code: 'ECONNECTION', message: 'connect ECONNREFUSED' }, 'retry'],
    [{ code: 'ETIMEDOUT', message: 'Timeout' }, 'retry'],
    [{ code: 'EAUTH', responseCode: 535, response: '535 5.7.8 Authentication failed' }, 'retry'],
    [{ responseCode: 550, response: '550 5.1.1 <x@example.com>: Recipient address rejected: User unknown' }, 'bounced'],
    [{ responseCode: 553, response: '553 mailbox name not allowed' }, 'bounced'],
    [{ responseCode: 554, response: '554 5.7.1 Message rejected as spam' }, 'failed'],
    [{ responseCode: 552, response: '552 5.3.4 Message size exceeds fixed limit' }, 'failed'],
    // Refused by nodemailer before any command: the same address would be refused on every try.
    [{ code: 'EENVELOPE', message: 'Invalid recipient "anna<x>@example.com"' }, 'failed'],
    [{ code: 'EENVELOPE', message: 'No recipients defined' }, 'failed'],
    [{ code: 'EMESSAGE', message: 'Message size larger than allowed 1000' }, 'failed'],
    // Refused by the relay: its reply decides.
    [{ code: 'EENVELOPE', responseCode: 450, response: '450 4.2.1 Mailbox busy' }, 'retry'],
    [{ code: 'EENVELOPE', responseCode: 550, response: '550 5.1.1 User unknown' }, 'bounced'],
  ])('%o → %s', (error, kind) => {
    expect(classifyFailure(error).kind).toBe(kind);
  });

  it('keeps the reply text', () => {
    expect(classifyFailure({ responseCode: 554, response: '554 no' })).toEqual({ kind: 'failed', reply: '554 no' });
    expect(classifyFailure({ code: 'ECONNECTION', message: 'refused' }).reply).toBe('ECONNECTION refused');
    expect(classifyFailure({ code: 'EENVELOPE', message: 'Invalid recipient "a<b>"' })).toEqual({
      kind: 'failed',
      reply: 'not sent: EENVELOPE Invalid recipient "a<b>"',
    });
  });
});

describe('unreachable', () => {
  it.each([
    [{ code: 'ESOCKET', originalCode: 'ECONNREFUSED', message: 'connect ECONNREFUSED 10.0.0.1:587' }, 'refuses connections'],
    [{ code: 'ETIMEDOUT', timeoutType: 'GREETING_TIMEOUT', message: 'Greeting never received' }, 'does not answer'],
    [{ code: 'ETIMEDOUT', timeoutType: 'CONNECT_TIMEOUT', message: 'Connection timeout' }, 'does not answer'],
    [{ code: 'EAUTH', responseCode: 535, response: '535 5.7.8 Authentication credentials invalid' }, 'refuses the login'],
    [{ code: 'EDNS', originalCode: 'ENOTFOUND', message: 'getaddrinfo ENOTFOUND relay.example.com' }, 'cannot be found'],
    [{ code: 'ETLS', message: 'Error initiating TLS' }, 'fails the TLS handshake'],
    [{ code: 'EPROTOCOL', responseCode: 421, response: '421 4.7.0 Too many connections' }, 'turns connections away'],
    [{ code: 'ECONNECTION', message: 'Connection closed unexpectedly' }, 'drops connections'],
    [{ code: 'ESOCKET', originalCode: 'ECONNRESET', message: 'read ECONNRESET' }, 'drops connections'],
    [{ message: 'something else' }, 'cannot be reached'],
  ])('%o → the relay %s', (error, what) => {
    expect(unreachable(error, 'relay.example.com:587')).toMatchObject({
      kind: 'unsent',
      relay: `The relay at relay.example.com:587 ${what}`,
    });
  });

  it('keeps the error as the reply', () => {
    expect(unreachable({ code: 'EAUTH', responseCode: 535, response: '535 5.7.8 no' }, 'h:25').reply).toBe('535 5.7.8 no');
    expect(unreachable({ code: 'ESOCKET', message: 'connect ECONNREFUSED 127.0.0.1:25' }, 'h:25').reply).toBe(
      'ESOCKET connect ECONNREFUSED 127.0.0.1:25',
    );
  });
});

describe('relayTransportOptions', () => {
  it('reads smtp:// with STARTTLS and credentials', () => {
    const options = relayTransportOptions({
      url: 'smtp://user%40x:p%3Ass@relay.example.com:587',
      maxConnections: 4,
      maxMessagesPerConnection: 50,
    });
    expect(options).toMatchObject({
      pool: true,
      host: 'relay.example.com',
      port: 587,
      secure: false,
      auth: { user: 'user@x', pass: 'p:ss' },
      maxConnections: 4,
      maxMessages: 50,
      tls: { rejectUnauthorized: true },
    });
  });

  it('reads smtps:// as TLS from the start, port 465 by default', () => {
    expect(relayTransportOptions({ url: 'smtps://relay.example.com', maxConnections: 1, maxMessagesPerConnection: 1 })).toMatchObject({
      port: 465,
      secure: true,
      auth: undefined,
    });
  });

  it('refuses another scheme with a sentence', () => {
    expect(() => relayTransportOptions({ url: 'http://relay.example.com', maxConnections: 1, maxMessagesPerConnection: 1 })).toThrow(
      'SMTP_URL must start with smtp:// or smtps://, not http://',
    );
  });
});
