import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createKit, handOver, newProfile, SAMPLE_DELIVERY, type Kit } from '../test-kit';
import { inlineScriptHashes } from './security-headers';

let kit: Kit | undefined;
let appDir: string | undefined;
afterEach(async () => {
  await kit?.close();
  if (appDir) rmSync(appDir, { recursive: true, force: true });
  kit = appDir = undefined;
});

const BOOTSTRAP = `
  {
    __sveltekit_x = { base: "" };
    const element = document.currentScript.parentElement;
    import("/_app/immutable/entry/start.js").then((kit) => kit.start(element));
  }
`;
const INDEX = `<!doctype html><html><head><link href="/_app/immutable/entry/start.js" rel="modulepreload"><script src="/x.js"></script></head>
<body><div style="display: contents"><script>${BOOTSTRAP}</script></div></body></html>`;
const sha256 = (text: string) => `'sha256-${createHash('sha256').update(text).digest('base64')}'`;

/** Returns the directives of a Content-Security-Policy header by name. */
function directives(header: string | null): Map<string, string[]> {
  return new Map(
    (header ?? '')
      .split(';')
      .map((d) => d.trim().split(/\s+/) as [string, ...string[]])
      .map(([name, ...v]) => [name, v]),
  );
}

/** Returns a kit serving an app folder that holds INDEX. */
async function appKit(): Promise<Kit> {
  appDir = mkdtempSync(join(tmpdir(), 'mailroom-app-'));
  writeFileSync(join(appDir, 'index.html'), INDEX);
  kit = await createKit({ appDir });
  await kit.services.audience.upsertMany([newProfile()], 'test', new Date());
  return kit;
}

async function unsubscribePath(kit: Kit) {
  await handOver(kit, 'd1', SAMPLE_DELIVERY);
  const journalId = await kit.value('SELECT id FROM journal WHERE delivery_id = ?', ['d1']);
  return `/u/${kit.services.signer.sign({ purpose: 'u', deliveryId: 'd1', journalId })}`;
}

describe('security headers', () => {
  it('hashes exactly the inline scripts of a page', () => {
    expect(inlineScriptHashes(INDEX)).toEqual([sha256(BOOTSTRAP)]);
    expect(inlineScriptHashes('<script type="module" src="/a.js"></script><p>no script</p>')).toEqual([]);
  });

  it('allow the built index.html its own bootstrap script by hash, and no other inline script', async () => {
    const kit = await appKit();
    const response = await kit.app.request('/');
    expect(response.status).toBe(200);
    expect(await response.text()).toBe(INDEX);
    const csp = directives(response.headers.get('content-security-policy'));
    expect(csp.get('script-src')).toEqual(["'self'", sha256(BOOTSTRAP)]);
    // An app route is the same index, with the same policy.
    const route = await kit.app.request('/deliveries/abc');
    expect(directives(route.headers.get('content-security-policy')).get('script-src')).toEqual(["'self'", sha256(BOOTSTRAP)]);
  });

  it.each([
    ['the app', '/', 200, 'same-origin'],
    ['the mailbox page', '/mailbox', 200, 'same-origin'],
    ['an API route', '/api/deliveries', 200, 'same-origin'],
    ['the unsubscribe page', 'unsubscribe', 200, 'no-referrer'],
    ['the click redirect', '/t/c/not-a-token', 404, 'no-referrer'],
  ])('are set on %s', async (_, path, status, referrerPolicy) => {
    const kit = await appKit();
    const response = await kit.app.request(path === 'unsubscribe' ? await unsubscribePath(kit) : path, { headers: { cookie: kit.cookie } });
    expect(response.status).toBe(status);
    const csp = directives(response.headers.get('content-security-policy'));
    expect(csp.get('default-src')).toEqual(["'self'"]);
    expect(csp.get('script-src')).not.toContain("'unsafe-inline'");
    expect(csp.get('object-src')).toEqual(["'none'"]);
    expect(csp.get('base-uri')).toEqual(["'self'"]);
    expect(csp.get('frame-ancestors')).toEqual(["'none'"]);
    expect(csp.get('form-action')).toEqual(["'self'"]);
    expect(csp.get('worker-src')).toEqual(["'self'"]);
    expect(csp.get('connect-src')).toEqual(["'self'"]);
    // What an email previewed in a sandboxed srcdoc frame (which inherits the policy) needs.
    expect(csp.get('img-src')).toEqual(["'self'", 'data:', 'http:', 'https:']);
    expect(csp.get('style-src')).toEqual(["'self'", "'unsafe-inline'"]);
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    expect(response.headers.get('x-frame-options')).toBe('DENY');
    expect(response.headers.get('referrer-policy')).toBe(referrerPolicy);
  });

  it('keep the mailbox preview sandboxed without scripts', async () => {
    const kit = await appKit();
    const id = await kit.services.mailbox.add({
      envelopeFrom: 'news@shop.example.com',
      envelopeTo: 'someone@example.com',
      raw: Buffer.from(
        'From: news@shop.example.com\r\nTo: someone@example.com\r\nSubject: Hi\r\nContent-Type: text/html\r\n\r\n<p>Hi</p>\r\n',
      ),
      receivedAt: new Date().toISOString(),
    });
    const page = await (await kit.app.request(`/mailbox/${id}`, { headers: { cookie: kit.cookie } })).text();
    const sandbox = /<iframe[^>]*\ssandbox="([^"]*)"/.exec(page)?.[1];
    expect(sandbox).toBeDefined();
    expect(sandbox).not.toContain('allow-scripts');
  });
});
