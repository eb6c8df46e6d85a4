/**
 * Sending settings: read them, change them (the pool is rebuilt at once), and test a relay.
 * A change is written to the audit log as a sentence of what changed, never a password or key.
 */

import { Hono } from 'hono';
import { publicUrlProblems } from '../../shared/typology';
import { settingsBody, testBody, type PublicSettings, type SettingsBody } from '../sending/settings';
import type { AppEnv } from '../services';
import { recordAudit } from './audit-trail';
import { jsonBody } from './validate';

export const settings = new Hono<AppEnv>()
  .get('/', async (c) => {
    const publicUrl = c.var.services.publicUrl();
    // Recipients must reach tracking and unsubscribe links: say so when they cannot.
    return c.json({ ...(await c.var.services.settings.current()), publicUrl, publicUrlProblems: publicUrlProblems(publicUrl) }, 200);
  })
  .put('/', jsonBody(settingsBody), async (c) => {
    const body = c.req.valid('json');
    const control = c.var.services.settings;
    const before = await control.current();
    let after: PublicSettings;
    try {
      after = await control.apply(body);
    } catch (error) {
      return c.json({ error: 'settings-refused', message: (error as Error).message }, 422);
    }
    const changes = settingsChanges(before, after, body);
    if (changes) await recordAudit(c, 'settings-changed', 'settings', 'sending', 'Sending settings', changes);
    return c.json(after, 200);
  })
  .post('/test-connection', jsonBody(testBody), async (c) => c.json(await c.var.services.settings.test(c.req.valid('json').relayUrl), 200));

/** Returns where a relay is, for people: its host and port (never its user or password), or the built-in sink. */
const relayName = (url: string | null) => (url === null ? 'the built-in sink' : new URL(url).host);

/**
 * Returns a sentence of what a save changed ("Changed connections 5 → 10, DKIM off."), or ''
 * when it changed nothing. Relays are compared as shown (password masked); a password or DKIM
 * key given anew is named, never quoted.
 */
function settingsChanges(before: PublicSettings, after: PublicSettings, body: SettingsBody): string {
  const parts: string[] = [];
  if (before.relayUrl !== after.relayUrl) parts.push(`the relay (now ${relayName(after.relayUrl)})`);
  else if (body.relayUrl !== null && body.relayUrl !== before.relayUrl) parts.push("the relay's password");
  const counts = [
    ['connections', before.connections, after.connections],
    ['messages per connection', before.messagesPerConnection, after.messagesPerConnection],
    ['messages a second (0: no limit)', before.ratePerSecond, after.ratePerSecond],
  ] as const;
  for (const [name, was, now] of counts) if (was !== now) parts.push(`${name} ${was} → ${now}`);
  const dkim = (d: PublicSettings['dkim']) => (d ? `${d.keySelector}._domainkey.${d.domainName}` : null);
  if (dkim(before.dkim) !== dkim(after.dkim)) parts.push(after.dkim ? `DKIM (now ${dkim(after.dkim)})` : 'DKIM off');
  else if (body.dkim?.privateKey) parts.push('the DKIM private key');
  return parts.length ? `Changed ${parts.join(', ')}.` : '';
}
