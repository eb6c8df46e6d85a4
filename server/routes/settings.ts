/**
 * Sending settings: read them, change them (the pool is rebuilt at once), and test a relay.
 * A change is written to the audit log as a sentence of what changed, never a password or key.
 */

import { Hono } from 'hono';
import { z } from 'zod';
import { BOUNCE_POLICY, type BouncePolicy } from '../application/late-outcomes';
import { publicUrlProblems } from '../../shared/typology';
import { settingsBody, testBody, type PublicSettings, type SettingsBody } from '../sending/settings';
import type { AppEnv } from '../services';
import { recordAudit } from './audit-trail';
import { jsonBody } from './validate';

/** What the bounce policy may be: counts and days of sense, rates as fractions (0.05 is 5 %). */
const bouncePolicyBody = z.object({
  softLimit: z.number().int().min(1).max(100),
  softDays: z.number().int().min(1).max(365),
  mailboxFullDays: z.number().int().min(1).max(365),
  hardBounceRate: z.number().min(0.001).max(1),
  complaintRate: z.number().min(0.0001).max(1),
  minimumSent: z.number().int().min(1).max(1_000_000),
});

const POLICY_LABELS: Record<keyof BouncePolicy, string> = {
  softLimit: 'soft bounces that quarantine',
  softDays: 'days they are counted over',
  mailboxFullDays: 'days a full mailbox stays quarantined',
  hardBounceRate: 'hard-bounce rate that pauses',
  complaintRate: 'complaint rate that pauses',
  minimumSent: 'messages sent before rates are judged',
};

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
  .post('/test-connection', jsonBody(testBody), async (c) => c.json(await c.var.services.settings.test(c.req.valid('json').relayUrl), 200))
  // The bounce policy: what quarantines, and what pauses a delivery (application/late-outcomes.ts).
  .get('/bounces', async (c) => {
    const { lateOutcomes, bounceDomain } = c.var.services;
    return c.json({ policy: await lateOutcomes.policy(), bounceDomain, defaults: BOUNCE_POLICY }, 200);
  })
  .put('/bounces', jsonBody(bouncePolicyBody), async (c) => {
    const { lateOutcomes } = c.var.services;
    const before = await lateOutcomes.policy();
    const policy = c.req.valid('json');
    await lateOutcomes.setPolicy(policy);
    const changed = (Object.keys(policy) as (keyof BouncePolicy)[]).filter((k) => policy[k] !== before[k]);
    if (changed.length) {
      const detail = `Changed ${changed.map((k) => `${POLICY_LABELS[k]} ${before[k]} → ${policy[k]}`).join(', ')}.`;
      await recordAudit(c, 'settings-changed', 'settings', 'bounces', 'Bounce policy', detail);
    }
    return c.json({ policy }, 200);
  });

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
  // Relays as shown (passwords masked), with their pools and the domains they serve.
  const relays = (s: PublicSettings) => JSON.stringify(s.relays);
  if (relays(before) !== relays(after)) {
    parts.push(
      after.relays.length
        ? `the further relays (now ${after.relays.map((r) => `${r.name} at ${relayName(r.url)}`).join(', ')})`
        : 'the further relays (now none)',
    );
  }
  // A password given anew (the URL typed whole, not the masked one shown) is named, never quoted.
  for (const r of body.relays) {
    const was = before.relays.find((b) => b.id === r.id);
    const now = after.relays.find((a) => a.id === r.id);
    if (was && now && was.url === now.url && r.url !== was.url) parts.push(`the password of ${r.name}`);
  }
  const throttles = (s: PublicSettings) => s.throttles.map((t) => `${t.perMinute} a minute to ${t.domains.join(', ')}`).join('; ');
  if (throttles(before) !== throttles(after))
    parts.push(after.throttles.length ? `the throttles (now ${throttles(after)})` : 'the throttles (now none)');
  return parts.length ? `Changed ${parts.join(', ')}.` : '';
}
