/**
 * A running Mailroom's API as the app uses it, over HTTP: signing in, and handing over a
 * delivery prepared from the server's audience with the shared preparation code, in chunks,
 * as the browser's outbox does.
 */

import { batchHeader } from '../../shared/handoff';
import { Preparation } from '../../shared/preparation';
import { DEFAULT_TYPOLOGY } from '../../shared/typology';
import type { AttributeDefinition, Delivery, PreparedRecipient, Profile } from '../../shared/types';

/** Calls the API as the signed-in operator; throws with the status and body on anything but 2xx. */
export type Api = <T>(path: string, init?: { method?: string; json?: unknown }) => Promise<T>;

/** Signs in as admin at `url`; returns the API as that operator. */
export async function signIn(url: string, password: string): Promise<Api> {
  const login = await fetch(`${url}/api/session`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'admin', password }),
  });
  if (!login.ok) throw new Error(`sign-in: ${login.status} ${await login.text()}`);
  const cookie = login.headers.get('set-cookie')!.split(';')[0];
  return async <T>(path: string, init: { method?: string; json?: unknown } = {}): Promise<T> => {
    const response = await fetch(`${url}${path}`, {
      method: init.method ?? (init.json === undefined ? 'GET' : 'POST'),
      headers: { cookie, 'content-type': 'application/json' },
      body: init.json === undefined ? undefined : JSON.stringify(init.json),
    });
    if (!response.ok) throw new Error(`${path}: ${response.status} ${await response.text()}`);
    return (await response.json()) as T;
  };
}

/**
 * Prepares delivery `id` for the profiles in `cities` (comma-separated, as the audience
 * builder's "is one of"), hands it over and sends it now; returns its recipients.
 */
export async function prepareAndSend(api: Api, id: string, cities: string): Promise<PreparedRecipient[]> {
  const changes = await api<{ profiles: Profile[] }>('/api/audience/changes?since=0&limit=20000');
  const { attributes } = await api<{ attributes: AttributeDefinition[] }>('/api/audience/schema');
  const delivery: Delivery = {
    id,
    version: 1,
    name: `Delivery ${id}`,
    fromName: 'Shop',
    fromAddress: 'news@shop.example.com',
    subject: 'Hello {{ first_name | default: "there" }}',
    html: '<p>Hi {{ first_name }}</p><a href="https://shop.example.com/">Shop</a> <a href="{{ unsubscribe_url }}">Unsubscribe</a>',
    preheader: '',
    text: '',
    audience: { kind: 'condition', field: 'city', operator: 'inList', value: cities },
    scheduledAt: null,
    typologyId: DEFAULT_TYPOLOGY.id,
    createdAt: '2026-11-28T00:00:00Z',
    updatedAt: '2026-11-28T00:00:00Z',
  };
  const started = Preparation.start(delivery, { typology: DEFAULT_TYPOLOGY, schema: attributes });
  if (!started.ok) throw new Error('preparation did not start');
  const { recipients, exclusions } = started.preparation.addProfiles(changes.profiles);
  const { result, last } = started.preparation.finish();
  const all = [...recipients, ...last.recipients];
  const excluded = [...exclusions, ...last.exclusions];
  const contentHash = 'c7a5c7a5c7a5c7a5';
  const chunks = Math.ceil(all.length / 1000);
  const exclusionChunks = Math.ceil(excluded.length / 1000);
  await api(`/api/deliveries/${id}/batch`, {
    method: 'PUT',
    json: batchHeader(delivery, result.kpis, contentHash, chunks, exclusionChunks),
  });
  for (let c = 0; c < chunks; c++) {
    await api(`/api/deliveries/${id}/batch/chunks/${c + 1}`, {
      method: 'PUT',
      json: { contentHash, recipients: all.slice(c * 1000, (c + 1) * 1000) },
    });
  }
  // Then the excluded, numbered on after the recipients, as the outbox sends them.
  for (let c = 0; c < exclusionChunks; c++) {
    await api(`/api/deliveries/${id}/batch/chunks/${chunks + c + 1}`, {
      method: 'PUT',
      json: { contentHash, exclusions: excluded.slice(c * 1000, (c + 1) * 1000) },
    });
  }
  await api(`/api/deliveries/${id}/batch/commit`, { json: { contentHash } });
  await api(`/api/deliveries/${id}/send`, { json: { contentHash, scheduledAt: null } });
  return all;
}
