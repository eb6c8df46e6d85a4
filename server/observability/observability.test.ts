/**
 * What an operator sees of a running Mailroom: the probes, /metrics and who may read it, the
 * JSON 404s under the operator's paths, and the log — over real HTTP against startMailroom
 * (the server `npm start` runs, with its SMTP thread and built-in sink), its log captured.
 */

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prepareAndSend, signIn } from '../../test/support/api';
import { createApp } from '../app';
import { readConfig } from '../config';
import { startMailroom, type RunningMailroom } from '../mailroom';
import { SESSION_COOKIE } from '../routes/session';
import { createServices } from '../services';
import { createSettingsControl } from '../sending/settings';
import { createKit, eventually, handOver, newProfile, recordingMessenger, SAMPLE_DELIVERY, testStores } from '../test-kit';
import { loggedPath } from './http';
import { createLogger } from './logger';

const PASSWORD = 'observability-test-password';
const dir = mkdtempSync(join(tmpdir(), 'mailroom-observability-'));
let mailroom: RunningMailroom;
let log = '';

/** Returns a stream that keeps what the logger writes in `log`. */
const capture = () =>
  new Writable({
    write(chunk, _encoding, done) {
      log += chunk.toString();
      done();
    },
  });
/** Returns the log lines written since `from` (a length of `log`), parsed. */
const logLines = (from = 0) =>
  log
    .slice(from)
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Record<string, unknown>);

beforeAll(async () => {
  const appDir = join(dir, 'app');
  mkdirSync(appDir);
  writeFileSync(join(appDir, 'index.html'), '<!doctype html><html><body><p>The Mailroom app</p></body></html>');
  const config = readConfig({
    PORT: '0',
    MAILROOM_DATA_DIR: join(dir, 'data'),
    MAILROOM_SINK_PORT: '0',
    MAILROOM_APP_DIR: appDir,
    MAILROOM_DEMO: 'off',
    MAILROOM_ADMIN_PASSWORD: PASSWORD,
  });
  mailroom = await startMailroom(config, createLogger({ level: 'debug', pretty: false, destination: capture() }));
});

afterAll(async () => {
  await mailroom?.close();
  rmSync(dir, { recursive: true, force: true });
});

const get = (path: string, headers: Record<string, string> = {}) => fetch(`${mailroom.url}${path}`, { headers, redirect: 'manual' });

describe('the probes', () => {
  it('answers /healthz and /readyz in JSON, not with the app', async () => {
    const health = await get('/healthz');
    expect(health.status).toBe(200);
    expect(health.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await health.json()).toEqual({ status: 'ok' });
    const ready = await get('/readyz');
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready', database: 'ok', engine: 'running' });
  });

  it('says not ready, 503, while the engine is stopping and when the database cannot be read', async () => {
    const kit = await createKit();
    const readyz = async () => {
      const response = await kit.app.request('/readyz');
      return { status: response.status, body: await response.json() };
    };
    expect(await readyz()).toEqual({ status: 200, body: { status: 'ready', database: 'ok', engine: 'running' } });
    await kit.services.engine.shutdown();
    expect(await readyz()).toEqual({ status: 503, body: { status: 'not-ready', database: 'ok', engine: 'stopping' } });
    kit.services.figures.close();
    await kit.stores.close();
    expect(await readyz()).toMatchObject({ status: 503, body: { status: 'not-ready', database: expect.stringMatching(/^unreachable: /) } });
  });

  it('answers 404 in JSON for every other path or method under /healthz, /readyz, /metrics and /api, and the app elsewhere', async () => {
    for (const [method, path] of [
      ['GET', '/healthz/deeper'],
      ['GET', '/readyz/'],
      ['GET', '/metrics/anything'],
      ['POST', '/healthz'],
      ['DELETE', '/metrics'],
      ['GET', '/api/nothing-here'],
    ]) {
      const response = await fetch(`${mailroom.url}${path}`, { method });
      expect(response.status, `${method} ${path}`).toBe(404);
      expect(response.headers.get('content-type'), `${method} ${path}`).toMatch(/^application\/json/);
      expect((await response.json()).error).toBe('not-found');
    }
    const page = await get('/deliveries/new');
    expect(await page.text()).toContain('The Mailroom app');
  });
});

describe('/metrics', () => {
  it('counts what was sent through the SMTP thread, its latency, the queue and tracking, beside the process metrics', async () => {
    const { audience } = mailroom.services;
    await audience.declareAttribute({ name: 'city', label: 'City', type: 'text' });
    await audience.upsertMany(
      ['anna', 'bert', 'cleo'].map((name) => ({ email: `${name}@example.com`, firstName: name, attributes: { city: 'Gent' } })),
      'test',
      new Date(),
    );
    const api = await signIn(mailroom.url, PASSWORD);
    const recipients = await prepareAndSend(api, 'metrics', 'Gent');
    expect(recipients).toHaveLength(3);
    await eventually(async () => (await api<{ delivered: number }>('/api/deliveries/metrics')).delivered === 3, 20_000);

    // An open, as a recipient's mail client fetches it.
    const [{ id: journalId }] = await mailroom.services.stores.query<{ id: number }>(
      'SELECT id FROM journal WHERE delivery_id = ? LIMIT 1',
      ['metrics'],
    );
    const token = mailroom.services.signer.sign({ purpose: 'o', deliveryId: 'metrics', journalId });
    expect((await get(`/t/o/${token}`)).status).toBe(200);

    const response = await get('/metrics');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await response.text();
    expect(text).toContain('mailroom_messages_total{outcome="sent"} 3\n');
    expect(text).toContain('mailroom_messages_total{outcome="failed"} 0\n');
    expect(text).toContain('mailroom_smtp_duration_seconds_count{outcome="sent"} 3\n');
    expect(text).toMatch(/mailroom_smtp_duration_seconds_bucket\{le="60",outcome="sent"\} 3\n/);
    expect(text).toContain('mailroom_tracking_requests_total{kind="open",status="200"} 1\n');
    expect(text).toContain('mailroom_deliveries_sending 0\n');
    expect(text).toMatch(/# TYPE mailroom_queue_messages gauge/);
    // prom-client's default process metrics, the event-loop lag among them.
    for (const name of [
      'process_cpu_user_seconds_total',
      'process_resident_memory_bytes',
      'nodejs_eventloop_lag_seconds',
      'nodejs_heap_size_used_bytes',
    ]) {
      expect(text).toMatch(new RegExp(`^${name} `, 'm'));
    }
    // No series per delivery: a label with its id would grow with every campaign.
    expect(text).not.toMatch(/="metrics"/);
  });

  it('counts the queue of the deliveries being sent, by state', async () => {
    const kit = await createKit({ messenger: recordingMessenger(() => new Promise(() => {})).messenger });
    await kit.services.audience.upsertMany([newProfile(), newProfile(), newProfile()], 'test', new Date());
    const { contentHash } = await handOver(kit, 'queued', SAMPLE_DELIVERY);
    await kit.request('/api/deliveries/queued/send', { json: { contentHash, scheduledAt: null } });
    // The messenger never answers: the engine claims what its window allows and holds it.
    const metrics = async () => (await kit.services.metrics.render()).body;
    await eventually(async () => /mailroom_queue_messages\{state="sending"\} [1-9]/.test(await metrics()));
    const text = await metrics();
    const value = (state: string) => Number(new RegExp(`mailroom_queue_messages\\{state="${state}"\\} (\\d+)`).exec(text)![1]);
    expect(value('queued') + value('sending')).toBe(3);
    expect(text).toContain('mailroom_deliveries_sending 1\n');
    await kit.request('/api/deliveries/queued/stop', { method: 'POST' });
    await kit.services.engine.shutdown(0);
    await kit.close();
  });

  it('answers only this machine, and not through a proxy, when no token is set', async () => {
    expect((await get('/metrics')).status).toBe(200);
    for (const header of ['x-forwarded-for', 'forwarded', 'x-real-ip']) {
      const proxied = await get('/metrics', { [header]: '203.0.113.9' });
      expect(proxied.status, header).toBe(403);
      expect((await proxied.json()).error).toBe('metrics-local-only');
    }
    // From another machine: the address the socket gives.
    const app = createApp(mailroom.services);
    const remote = await app.request('/metrics', {}, { incoming: { socket: { remoteAddress: '203.0.113.9' } } });
    expect(remote.status).toBe(403);
    expect((await remote.json()).message).toMatch(/Set MAILROOM_METRICS_TOKEN/);
    const local = await app.request('/metrics', {}, { incoming: { socket: { remoteAddress: '::ffff:127.0.0.1' } } });
    expect(local.status).toBe(200);
  });

  it('asks for the bearer token when MAILROOM_METRICS_TOKEN is set, also from this machine', async () => {
    const stores = await testStores();
    const token = 'a-metrics-token-of-some-length';
    const services = createServices(stores, {
      messenger: recordingMessenger().messenger,
      secret: 'test-secret',
      publicUrl: () => 'https://mail.example.com',
      appDir: null,
      secureCookies: false,
      log: () => {},
      metricsToken: token,
      settings: (engine) =>
        createSettingsControl({
          store: stores.settings,
          defaults: { relayUrl: null, connections: 1, messagesPerConnection: 1, ratePerSecond: 0, dkim: null, relays: [], throttles: [] },
          engine,
          builtInRelay: async () => 'smtp://127.0.0.1:1',
          log: () => {},
        }),
    });
    const app = createApp(services);
    const local = { incoming: { socket: { remoteAddress: '127.0.0.1' } } };
    const remote = { incoming: { socket: { remoteAddress: '203.0.113.9' } } };
    const missing = await app.request('/metrics', {}, local);
    expect(missing.status).toBe(401);
    expect(missing.headers.get('www-authenticate')).toBe('Bearer realm="mailroom-metrics"');
    expect((await app.request('/metrics', { headers: { authorization: 'Bearer not-the-token-at-all' } }, remote)).status).toBe(401);
    const right = await app.request('/metrics', { headers: { authorization: `Bearer ${token}` } }, remote);
    expect(right.status).toBe(200);
    expect(await right.text()).toContain('mailroom_messages_total');
    await stores.close();
  });
});

describe('the log', () => {
  it('writes one JSON line per request, with method, path, status and time, and no password, session or tracking token', async () => {
    const from = log.length;
    const signInResponse = await fetch(`${mailroom.url}/api/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'admin', password: PASSWORD }),
    });
    const session = new RegExp(`${SESSION_COOKIE}=([^;]+)`).exec(signInResponse.headers.get('set-cookie')!)![1];
    await fetch(`${mailroom.url}/api/deliveries?search=secret-query`, { headers: { cookie: `${SESSION_COOKIE}=${session}` } });
    const token = mailroom.services.signer.sign({ purpose: 'c', deliveryId: 'metrics', journalId: 1, linkId: 1 });
    await get(`/t/c/${token}`);
    await get('/u/some-unsubscribe-token');

    const requests = logLines(from).filter((line) => line.event === 'request');
    expect(requests.map((line) => `${line.method} ${line.path} ${line.status}`)).toEqual([
      'POST /api/session 200',
      'GET /api/deliveries 200',
      'GET /t/c/:token 302',
      'GET /u/:token 404',
    ]);
    for (const line of requests) {
      expect(line).toMatchObject({ level: 'info', time: expect.stringMatching(/^\d{4}-\d\d-\d\dT/), ms: expect.any(Number) });
    }
    for (const secret of [PASSWORD, session, token, 'some-unsubscribe-token', 'secret-query']) expect(log).not.toContain(secret);
    expect(log).not.toContain(session.slice(0, 16));
  });

  it('writes the engine events as JSON lines naming the delivery', async () => {
    // The delivery sent by the /metrics tests above.
    const events = logLines().filter((line) => line.component === 'engine' && line.deliveryId === 'metrics');
    expect(events.map((line) => `${line.level} ${line.event}: ${line.msg}`)).toEqual([
      'info delivery-sending: delivery metrics: sending.',
      'info delivery-completed: delivery metrics: completed.',
    ]);
  });

  it('cuts the tokens of tracking and unsubscribe links out of a logged path', () => {
    expect(loggedPath('/t/o/abc.def')).toBe('/t/o/:token');
    expect(loggedPath('/t/c/abc.def')).toBe('/t/c/:token');
    expect(loggedPath('/u/abc.def')).toBe('/u/:token');
    expect(loggedPath('/api/deliveries/d1')).toBe('/api/deliveries/d1');
    expect(loggedPath(`/api/${'x'.repeat(300)}`)).toHaveLength(201);
  });

  it('writes nothing under LOG_LEVEL, and lines for people instead of JSON in a terminal', () => {
    let out = '';
    const sink = new Writable({
      write(chunk, _encoding, done) {
        out += chunk.toString();
        done();
      },
    });
    const quiet = createLogger({ level: 'warn', pretty: false, destination: sink });
    quiet.info('an info line');
    quiet.warn({ event: 'x' }, 'a warning');
    expect(
      out
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line).msg),
    ).toEqual(['a warning']);

    out = '';
    const pretty = createLogger({ level: 'info', pretty: true, destination: sink });
    pretty.info({ event: 'request', status: 200 }, 'GET /healthz 200');
    expect(out).toMatch(/INFO.*GET \/healthz 200/);
    expect(() => JSON.parse(out)).toThrow();
  });
});
