/**
 * Opens, clicks and unsubscribes as recipients cause them, from the signed tokens in their
 * messages: each token is verified before anything is read, each event is classified (people
 * or machines, tracking/classify.ts), recorded by the tracking store in one consistent step,
 * and told to every node's listeners. The routes (tracking/routes.ts) only speak HTTP.
 */

import type { LiveBus } from '../live/live-bus';
import type { AudienceStore } from '../store/audience';
import { RECIPIENT_SOURCE } from '../store/audience';
import type { TrackedRecipient, TrackingStore } from '../store/tracking';
import { classifyClick, classifyOpen } from '../tracking/classify';
import type { TokenSigner } from '../tracking/tokens';

/** What the request showed of who made it. */
export interface Seen {
  userAgent: string | undefined;
  ip: string | undefined;
}

export interface TrackingDeps {
  signer: TokenSigner;
  tracking: TrackingStore;
  audience: AudienceStore;
  bus: LiveBus;
  now: () => Date;
  /** Hears what was recorded: the webhooks' opened, clicked and unsubscribed. */
  emit?: (event: 'opened' | 'clicked' | 'unsubscribed', data: Record<string, unknown>) => void;
}

/** The recipient an unsubscribe token names. */
export type UnsubscribeTarget = TrackedRecipient & { journalId: number };

export class TrackingEvents {
  constructor(private readonly deps: TrackingDeps) {}

  /** True for a valid token of a seed copy (it names row 0, no recipient's): its links work, and record nothing. */
  seedCopy(token: string, purpose: 'o' | 'c' | 'u'): boolean {
    return this.deps.signer.verify(token, purpose)?.journalId === 0;
  }

  /** Records an open for a valid token (a privacy proxy's apart); resolves false for any other token. */
  async open(token: string, seen: Seen): Promise<boolean> {
    const { signer, tracking, bus, now } = this.deps;
    const claims = signer.verify(token, 'o');
    if (!claims || (await tracking.recipient(claims.journalId))?.deliveryId !== claims.deliveryId) return false;
    const machine = classifyOpen(seen) === 'machine';
    await tracking.record({ deliveryId: claims.deliveryId, journalId: claims.journalId, kind: 'open', ...seen, machine }, now());
    bus.changed(claims.deliveryId);
    this.deps.emit?.('opened', { deliveryId: claims.deliveryId, journalId: claims.journalId, machine });
    return true;
  }

  /**
   * Records a click for a valid token and resolves the URL to redirect to — always one of the
   * delivery's own link table, never one from the request — or null for any other token.
   */
  async click(token: string, seen: Seen): Promise<string | null> {
    const { signer, tracking, bus, now } = this.deps;
    const claims = signer.verify(token, 'c');
    if (!claims) return null;
    // A seed copy's link goes where the message's goes, and counts nothing.
    if (claims.journalId === 0) return (await tracking.linkUrl(claims.deliveryId, claims.linkId!)) ?? null;
    const [url, recipient] = await Promise.all([tracking.linkUrl(claims.deliveryId, claims.linkId!), tracking.recipient(claims.journalId)]);
    if (!url || recipient?.deliveryId !== claims.deliveryId) return null;
    const at = now();
    const secondsAfterDelivery = recipient.sentAt ? (at.getTime() - Date.parse(recipient.sentAt)) / 1000 : null;
    await tracking.recordClick(
      { deliveryId: claims.deliveryId, journalId: claims.journalId, kind: 'click', linkId: claims.linkId!, ...seen },
      at,
      (facts) => classifyClick({ ...seen, secondsAfterDelivery, otherLinksWithinASecond: facts.otherLinksWithinASecond }) === 'machine',
    );
    bus.changed(claims.deliveryId);
    this.deps.emit?.('clicked', { deliveryId: claims.deliveryId, journalId: claims.journalId, url });
    return url;
  }

  /** Resolves who an unsubscribe token names, or undefined for a token that is not valid. */
  async unsubscribeTarget(token: string): Promise<UnsubscribeTarget | undefined> {
    const { signer, tracking } = this.deps;
    const claims = signer.verify(token, 'u');
    const recipient = claims && (await tracking.recipient(claims.journalId));
    if (!claims || !recipient || recipient.deliveryId !== claims.deliveryId) return undefined;
    return { ...recipient, journalId: claims.journalId };
  }

  /** Unsubscribes the profile a token names, at once (a delivery still sending skips it); resolves whom, or undefined. */
  async unsubscribe(token: string): Promise<UnsubscribeTarget | undefined> {
    const target = await this.unsubscribeTarget(token);
    if (!target) return undefined;
    const { audience, tracking, bus, now } = this.deps;
    await audience.unsubscribe(target.profileId, `${RECIPIENT_SOURCE} of delivery ${target.deliveryId}`, now());
    await tracking.record({ deliveryId: target.deliveryId, journalId: target.journalId, kind: 'unsubscribe' }, now());
    bus.changed(target.deliveryId);
    this.deps.emit?.('unsubscribed', { deliveryId: target.deliveryId, journalId: target.journalId, email: target.email });
    return target;
  }
}
