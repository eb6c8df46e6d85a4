/**
 * The app can be installed: Chromium itself is asked (DevTools protocol,
 * Page.getInstallabilityErrors) on the built app served by a real Mailroom process, and the
 * manifest it found names the icons an install needs.
 */

import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchWithProfile } from './support/browser';
import { removeDataDir, startServer, type ServerProcess } from './support/server';

let server: ServerProcess;
let context: BrowserContext;
const profile = mkdtempSync(join(tmpdir(), 'mailroom-pwa-profile-'));

beforeAll(async () => {
  server = await startServer();
  // A real profile: Chromium does not install apps from incognito-like contexts.
  context = await launchWithProfile(profile);
});

afterAll(async () => {
  await context?.close();
  await server?.stop();
  if (server) removeDataDir(server.dataDir);
  removeDataDir(profile);
});

describe('installing Mailroom as an app', () => {
  it('has no installability errors, a linked manifest with PNG and maskable icons, and an apple-touch-icon', async () => {
    const page = await context.newPage();
    await page.goto(`${server.url}/login`);
    // The service worker is part of what makes the app installable: wait until it controls the page.
    await page.evaluate(async () => {
      const registration = await navigator.serviceWorker.ready;
      const worker = registration.active!;
      if (worker.state !== 'activated')
        await new Promise((done) => worker.addEventListener('statechange', () => worker.state === 'activated' && done(null)));
    });
    await page.reload();
    const cdp = await context.newCDPSession(page);
    const { installabilityErrors } = await cdp.send('Page.getInstallabilityErrors');
    expect(installabilityErrors.map((e) => e.errorId)).toEqual([]);

    const { url, data } = await cdp.send('Page.getAppManifest');
    expect(url).toBe(`${server.url}/manifest.webmanifest`);
    const manifest = JSON.parse(data!) as {
      id: string;
      theme_color: string;
      icons: { src: string; sizes: string; type: string; purpose?: string }[];
    };
    expect(manifest).toMatchObject({ id: '/', theme_color: '#1d3557', display: 'standalone', start_url: '/' });
    const icons = manifest.icons.map((i) => `${i.sizes} ${i.type} ${i.purpose ?? 'any'}`);
    expect(icons).toEqual(expect.arrayContaining(['192x192 image/png any', '512x512 image/png any', '512x512 image/png maskable']));
    for (const icon of [...manifest.icons.map((i) => i.src), '/apple-touch-icon.png']) {
      const response = await fetch(`${server.url}${icon}`);
      expect(response.status, icon).toBe(200);
    }
    expect(await page.locator('link[rel="apple-touch-icon"]').getAttribute('href')).toMatch(/\/apple-touch-icon\.png$/);
  });
});
