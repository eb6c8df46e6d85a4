/**
 * What `npm start` says when it starts: where Mailroom runs, how to sign in, and a warning
 * when recipients could not reach the links in its messages.
 */

import { describe, expect, it } from 'vitest';
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
});
