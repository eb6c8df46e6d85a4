/**
 * What `npm start` says when it starts: where Mailroom runs, how to sign in, and a warning
 * when recipients could not reach the links in its messages.
 */

import { join } from 'node:path';
import Database from 'better-sqlite3';
import nodemailer from 'nodemailer';
import { describe, expect, it } from 'vitest';
import { postfixBounce } from './support/reports';
import { removeDataDir, startServer } from './support/server';

describe('starting Mailroom', () => {
  it('prints the URL and how to sign in, and warns that links under a local address cannot be reached', async () => {
    const server = await startServer();
    try {
      const out = server.output();
      expect(out).toMatch(/Mailroom is running at http:\/\/localhost:\d+/);
      expect(out).toMatch(/Sign in as admin with the password: \S+/);
      expect(out).toMatch(
        /Warning: Unsubscribe and tracking links point at http:\/\/localhost:\d+, which recipients cannot reach: set MAILROOM_PUBLIC_URL/,
      );
    } finally {
      await server.stop();
      removeDataDir(server.dataDir);
    }
  });

  it('receives bounce reports on MAILROOM_BOUNCE_PORT, for MAILROOM_BOUNCE_DOMAIN, and says so', async () => {
    const server = await startServer({ MAILROOM_BOUNCE_PORT: '0', MAILROOM_BOUNCE_DOMAIN: 'Bounces.Example.com' });
    try {
      const port = Number(/Bounce and complaint reports received on port (\d+), for bounces\.example\.com\./.exec(server.output())?.[1]);
      expect(port).toBeGreaterThan(0);
      // A reporting MTA's report is taken over SMTP; one about no message of ours changes nothing.
      const transport = nodemailer.createTransport({ host: '127.0.0.1', port, secure: false, ignoreTLS: true });
      const original = {
        messageId: '<1.none@shop.example.com>',
        to: 'zoe@example.com',
        returnPath: 'bounce-1-000000000000@bounces.example.com',
      };
      const info = await transport.sendMail({
        envelope: { from: '', to: original.returnPath },
        raw: postfixBounce(original, '5.1.1', '550 5.1.1 unknown'),
      });
      transport.close();
      expect(info.response).toMatch(/^250 /);
      const db = new Database(join(server.dataDir, 'mailroom.db'), { readonly: true });
      expect(db.prepare('SELECT COUNT(*) FROM late_outcomes').pluck().get()).toBe(0);
      db.close();
    } finally {
      await server.stop();
      removeDataDir(server.dataDir);
    }
  });

  it('says nothing of the kind with a public https address', async () => {
    const server = await startServer({ MAILROOM_PUBLIC_URL: 'https://mail.example.com' });
    try {
      expect(server.output()).toMatch(/Mailroom is running at/);
      expect(server.output()).not.toMatch(/Warning:/);
    } finally {
      await server.stop();
      removeDataDir(server.dataDir);
    }
  });

  it('starts without the demo audience with MAILROOM_DEMO=off, and never seeds it into that database later', async () => {
    const server = await startServer({ MAILROOM_DEMO: 'off', MAILROOM_ADMIN_PASSWORD: 'start-test-password' });
    try {
      expect(server.output()).toMatch(/\(new, empty: import your audience on the Audience page\)/);
      const api = await signedIn(server.url, 'start-test-password');
      expect(await (await api('/api/audience/count')).json()).toEqual({ total: 0 });
    } finally {
      await server.stop();
    }
    // Started again on the same (empty) data, with the demo now allowed: still nothing seeded.
    const again = await startServer({ MAILROOM_ADMIN_PASSWORD: 'start-test-password' }, server.dataDir);
    try {
      const api = await signedIn(again.url, 'start-test-password');
      expect(await (await api('/api/audience/count')).json()).toEqual({ total: 0 });
    } finally {
      await again.stop();
      removeDataDir(server.dataDir);
    }
  });
});

/** Returns a fetch of the API as a signed-in admin. */
async function signedIn(url: string, password: string) {
  const login = await fetch(`${url}/api/session`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'admin', password }),
  });
  const cookie = login.headers.get('set-cookie')!.split(';')[0];
  return (path: string) => fetch(`${url}${path}`, { headers: { cookie } });
}
