/** The typed client of the server's API (hono/client over the server's own route types). */

import { hc } from 'hono/client';
import { m } from '$lib/i18n.svelte';
import type { AppType } from '../../server/app';

export const client = hc<AppType>('/', { init: { credentials: 'same-origin' } });

/** An expected refusal from the server: its code and the sentence to show. */
export interface ApiRefusal {
  error: string;
  message: string;
}

/** Returns the server's refusal from a failed response, with a fallback sentence. */
export async function refusalOf(response: Response): Promise<ApiRefusal> {
  try {
    const body = (await response.json()) as Partial<ApiRefusal>;
    return {
      error: body.error ?? `http-${response.status}`,
      message: body.message ?? m.worker_server_answered({ status: String(response.status) }),
    };
  } catch {
    return { error: `http-${response.status}`, message: m.worker_server_answered({ status: String(response.status) }) };
  }
}
