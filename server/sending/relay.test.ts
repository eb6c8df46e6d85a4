/**
 * SMTP_URL: sending through a relay that requires STARTTLS and authentication, over TCP,
 * the way Mailroom sends when a relay is configured.
 */

import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPooledMessenger } from './smtp-pool';

const accepted: { user: string; secure: boolean; to: string[] }[] = [];
let relay: SMTPServer;
let port = 0;

beforeAll(async () => {
  relay = new SMTPServer({
    logger: false,
    closeTimeout: 100,
    authMethods: ['PLAIN', 'LOGIN'],
    // Like a real submission port: no mail without TLS and a login.
    allowInsecureAuth: false,
    onAuth(auth, _session, callback) {
      if (auth.username === 'mailer@example.com' && auth.password === 'p@ss:word') return callback(null, { user: auth.username });
      callback(new Error('535 5.7.8 Authentication credentials invalid'));
    },
    onData(stream, session, callback) {
      stream.resume();
      stream.on('end', () => {
        accepted.push({ user: String(session.user), secure: session.secure, to: session.envelope.rcptTo.map((r) => r.address) });
        callback(null, 'Queued');
      });
    },
  });
  relay.on('error', () => {}); // a refused login ends connections abruptly
  await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
  port = (relay.server.address() as { port: number }).port;
});

afterAll(() => new Promise<void>((resolve) => relay.close(() => resolve())));

const message = {
  from: { name: 'Shop', address: 'news@shop.example.com' },
  to: 'anna@example.com',
  subject: 'Hello',
  html: '<p>Hello</p>',
  text: 'Hello',
  messageId: '<1.d@shop.example.com>',
  headers: {},
};

describe('sending through a relay from SMTP_URL', () => {
  it('upgrades with STARTTLS, signs in with the URL-encoded credentials and is accepted', async () => {
    const messenger = createPooledMessenger({
      url: `smtp://mailer%40example.com:p%40ss%3Aword@127.0.0.1:${port}`,
      maxConnections: 2,
      maxMessagesPerConnection: 10,
    });
    const outcome = await messenger.send(message);
    expect(outcome.kind).toBe('sent');
    expect(outcome.reply).toMatch(/^250 .*Queued/);
    await messenger.close();
    expect(accepted.at(-1)).toEqual({ user: 'mailer@example.com', secure: true, to: ['anna@example.com'] });
  });

  it('treats refused credentials as relay trouble: the message was never handed over, and no recipient is blamed', async () => {
    const messenger = createPooledMessenger({
      url: `smtp://mailer%40example.com:wrong@127.0.0.1:${port}`,
      maxConnections: 1,
      maxMessagesPerConnection: 10,
    });
    const outcome = await messenger.send(message);
    await messenger.close();
    expect(outcome).toMatchObject({ kind: 'unsent', relay: `The relay at 127.0.0.1:${port} refuses the login` });
    expect(outcome.reply).toMatch(/535 5\.7\.8 Authentication credentials invalid/);
  });
});
