import { afterEach, describe, expect, it } from 'vitest';
import { createKit, type Kit } from '../test-kit';
import { bodyLimitOf, IMPORT_MAX_BYTES, sizeOf } from './body-limits';

let kit: Kit | undefined;
afterEach(async () => {
  await kit?.close();
  kit = undefined;
});

const CHUNK = 16 * 1024;

/** A body of `total` bytes made as it is read, counting what was pulled; nothing is read ahead. */
function countedBody(total: number, line = 'x') {
  const chunk = new TextEncoder().encode(line.repeat(Math.ceil(CHUNK / line.length)).slice(0, CHUNK));
  const counter = { pulled: 0 };
  const stream = new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        if (counter.pulled >= total) return controller.close();
        counter.pulled += chunk.length;
        controller.enqueue(chunk);
      },
    },
    { highWaterMark: 0 },
  );
  return { stream, counter };
}

const send = (path: string, method: string, body: ReadableStream, headers: Record<string, string> = {}) =>
  kit!.app.request(path, { method, body, headers, duplex: 'half' } as RequestInit);

describe('body limits', () => {
  it.each([
    ['POST', '/api/session', 8 * 1024, false],
    ['PUT', '/api/settings', 64 * 1024, false],
    ['POST', '/api/settings/test-connection', 64 * 1024, false],
    ['PUT', '/api/audience/denylist', 8 * 1024, false],
    ['POST', '/api/audience/imports', IMPORT_MAX_BYTES, true],
    ['PUT', '/api/deliveries/d-1/batch', 8 * 1024 * 1024, false],
    ['PUT', '/api/deliveries/d-1/batch/chunks/7', 32 * 1024 * 1024, false],
    ['POST', '/api/proofs', 8 * 1024 * 1024, false],
    ['POST', '/api/deliveries/d-1/stop', 8 * 1024, false],
    ['POST', '/u/some-token', 8 * 1024, false],
    ['PUT', '/api/deliveries//batch', 8 * 1024, false],
  ])('%s %s takes %d bytes (streamed: %s)', (method, path, maxBytes, streamed) => {
    expect(bodyLimitOf(method, path, IMPORT_MAX_BYTES)).toEqual({ maxBytes, streamed });
  });

  it('says sizes as a person would', () => {
    expect([8 * 1024, 32 * 1024 * 1024, 2 * 1024 ** 3, 2.5 * 1024 * 1024, 100].map(sizeOf)).toEqual([
      '8 KiB',
      '32 MiB',
      '2 GiB',
      '2.5 MiB',
      '100 bytes',
    ]);
  });

  it('stops reading a streamed sign-in far over its limit and answers 413', async () => {
    kit = await createKit();
    const { stream, counter } = countedBody(200 * 1024 * 1024);
    const response = await send('/api/session', 'POST', stream, { 'content-type': 'application/json' });
    expect(response.status).toBe(413);
    expect(await response.json()).toEqual({ error: 'body-too-large', message: 'The request body is over the 8 KiB this request takes.' });
    expect(counter.pulled).toBeLessThanOrEqual(8 * 1024 + CHUNK);
  });

  it('refuses a declared Content-Length over the limit without reading anything', async () => {
    kit = await createKit();
    const { stream, counter } = countedBody(200 * 1024 * 1024);
    const response = await send('/api/session', 'POST', stream, { 'content-type': 'application/json', 'content-length': '209715200' });
    expect(response.status).toBe(413);
    expect(counter.pulled).toBe(0);
  });

  it.each([
    ['POST', '/api/proofs'],
    ['PUT', '/api/deliveries/d-1/batch/chunks/1'],
    ['POST', '/api/audience/imports'],
  ])('reads nothing of a body sent without a session: %s %s', async (method, path) => {
    kit = await createKit();
    const { stream, counter } = countedBody(50 * 1024 * 1024);
    const response = await send(path, method, stream, { 'content-type': 'application/json' });
    expect(response.status).toBe(401);
    expect(counter.pulled).toBe(0);
  });

  it('takes a batch header whose HTML is two million two-byte characters', async () => {
    kit = await createKit();
    const header = {
      version: 1,
      contentHash: 'abcdef0123456789',
      name: 'Big',
      fromName: 'Shop',
      fromAddress: 'news@shop.example.com',
      subject: 'Hello',
      html: 'é'.repeat(2_000_000),
      targeted: 0,
      toDeliver: 0,
      excluded: 0,
      excludedByCause: {},
      chunkCount: 1,
    };
    const response = await kit.request('/api/deliveries/big/batch', { method: 'PUT', json: header });
    expect(response.status).toBe(200);
  });

  it('streams an import through up to its limit, then stops reading and keeps the whole lines before it', async () => {
    kit = await createKit({ importMaxBytes: 256 * 1024 });
    const encoder = new TextEncoder();
    let next = 0;
    let pulled = 0;
    let text = 'email\n';
    const body = new ReadableStream<Uint8Array>(
      {
        pull(controller) {
          // 50 MiB of lines "p0@example.com", "p1@example.com", … in chunks that end anywhere in a line.
          if (pulled >= 50 * 1024 * 1024) return controller.close();
          while (text.length < CHUNK + 7) text += `p${next++}@example.com\n`;
          const chunk = encoder.encode(text.slice(0, CHUNK + 7));
          text = text.slice(CHUNK + 7);
          pulled += chunk.length;
          controller.enqueue(chunk);
        },
      },
      { highWaterMark: 0 },
    );
    const response = await kit.app.request('/api/audience/imports', {
      method: 'POST',
      body,
      headers: { cookie: kit.cookie, 'content-type': 'text/csv' },
      duplex: 'half',
    } as RequestInit);
    expect(response.status).toBe(413);
    const refusal = await response.json();
    expect(refusal.error).toBe('file-too-large');
    const rows = Number(
      /^The file is over the 256 KiB an import takes: its first (\d+) rows \(the whole lines within that size\) were imported, and the rest was not read\. Import the rest as another file\.$/.exec(
        refusal.message,
      )?.[1],
    );
    expect(pulled).toBeLessThan(256 * 1024 + 2 * CHUNK);
    expect(rows).toBeGreaterThan(10_000);
    // Every row within the limit is in, whole; nothing after it.
    expect(await kit.services.audience.count()).toBe(rows);
    const emails = (await kit.services.audience.changesSince(0, 100_000)).profiles.map((p) => p.email);
    expect(emails.every((email) => /^p\d+@example\.com$/.test(email))).toBe(true);
    expect(emails).toContain(`p${rows - 1}@example.com`);
    expect(emails).not.toContain(`p${rows}@example.com`);
  });

  it('refuses an import whose Content-Length is over the limit before reading or importing anything', async () => {
    kit = await createKit({ importMaxBytes: 256 * 1024 });
    const { stream, counter } = countedBody(64 * 1024 * 1024, 'someone@example.com\n');
    const response = await send('/api/audience/imports', 'POST', stream, {
      cookie: kit.cookie,
      'content-type': 'text/csv',
      'content-length': String(64 * 1024 * 1024),
    });
    expect(response.status).toBe(413);
    expect((await response.json()).message).toBe('The file is over the 256 KiB an import takes. Split it and import the parts.');
    expect(counter.pulled).toBe(0);
    expect(await kit.services.audience.count()).toBe(0);
  });

  it('imports a file under the limit as before', async () => {
    kit = await createKit({ importMaxBytes: 256 * 1024 });
    const response = await kit.app.request('/api/audience/imports', {
      method: 'POST',
      body: 'email,first_name\nada@example.com,Ada\ngrace@example.com,Grace\n',
      headers: { cookie: kit.cookie, 'content-type': 'text/csv' },
    });
    expect(response.status).toBe(200);
    expect(await kit.services.audience.count()).toBe(2);
  });

  it('holds the one-click unsubscribe, open to anyone, to the default limit', async () => {
    kit = await createKit();
    const { stream, counter } = countedBody(50 * 1024 * 1024);
    const response = await send('/u/some-token', 'POST', stream, { 'content-type': 'application/x-www-form-urlencoded' });
    expect(response.status).toBe(413);
    expect(counter.pulled).toBeLessThanOrEqual(8 * 1024 + CHUNK);
  });
});
