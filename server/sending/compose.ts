/**
 * Composing the message for one journal row: the shared renderer (what the preview showed),
 * then tracking, then headers. Every header value passes through `oneLine`, and the MIME
 * writer refuses a line break and encodes the rest, so no profile value can add or break a header.
 */

import { asciiDomain, emailDomain } from '../../shared/email-address';
import { renderMessage, type CompiledMessage } from '../../shared/message';
import { oneLine } from '../../shared/template';
import type { JournalEntry } from '../store/journal';
import type { TrackingStore } from '../store/tracking';
import type { TokenSigner } from '../tracking/tokens';
import { cutLinks, joinTracked } from '../tracking/rewrite';
import { checkHeaders } from './mime';

export interface OutgoingMessage {
  /** Addresses as the audience and the delivery hold them; the MIME writer and the pool put their domains in ASCII (punycode). */
  from: { name: string; address: string };
  to: string;
  subject: string;
  html: string;
  text: string;
  messageId: string;
  headers: Record<string, string>;
  /** The envelope sender when bounces come back to Mailroom: the message's signed return path (bounces/verp.ts). */
  returnPath?: string;
  /** The relay chosen for the delivery (relays.ts); absent or null routes by the From domain. */
  relayId?: string | null;
}

export interface ComposeContext {
  /** Where tracking and unsubscribe links point, e.g. https://mail.example.com */
  publicUrl: string;
  signer: TokenSigner;
  tracking: TrackingStore;
  /** The clock whose time is the send time, a template's "now" (the real time when not given). */
  now?: () => Date;
  /** Returns the return path of a journal row's message, or null to send from the From address (no bounce domain). */
  returnPath?: (journalId: number) => string | null;
}

export interface DeliveryForSending {
  id: string;
  fromName: string;
  fromAddress: string;
  relayId?: string | null;
}

/**
 * Resolves the message as it goes over SMTP for this recipient. The body is rendered now, from
 * the recipient's typed values, with "now" the send time; the subject is the one prepared.
 */
export async function composeMessage(
  delivery: DeliveryForSending,
  message: CompiledMessage,
  entry: JournalEntry,
  context: ComposeContext,
): Promise<OutgoingMessage> {
  const { publicUrl, signer, tracking } = context;
  const claims = { deliveryId: delivery.id, journalId: entry.id };
  const unsubscribeUrl = `${publicUrl}/u/${signer.sign({ purpose: 'u', ...claims })}`;
  const rendered = renderMessage(message, entry.values, { unsubscribeUrl, sendAt: context.now?.() ?? new Date() });
  // A campaign repeats its links (a logo, a button and a text link to one page): sign each URL once per message.
  const cut = cutLinks(rendered.html, unsubscribeUrl);
  const ids = await Promise.all(cut.urls.map((url) => tracking.linkId(delivery.id, url)));
  const tracked = ids.map((linkId) => `${publicUrl}/t/c/${signer.sign({ purpose: 'c', ...claims, linkId })}`);
  const html = joinTracked(cut, tracked, `${publicUrl}/t/o/${signer.sign({ purpose: 'o', ...claims })}`);
  // The Message-ID and the mailto: link carry the From domain as DNS knows it: in ASCII (punycode).
  const domain = asciiDomain(emailDomain(delivery.fromAddress));
  const outgoing: OutgoingMessage = {
    from: { name: oneLine(delivery.fromName), address: delivery.fromAddress },
    to: entry.email,
    subject: oneLine(entry.subject),
    html,
    text: rendered.text,
    messageId: `<${entry.id}.${delivery.id}@${domain}>`,
    headers: {
      'List-Unsubscribe': `<${unsubscribeUrl}>, <mailto:unsubscribe@${domain}?subject=unsubscribe-${entry.id}>`,
      'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click',
      'X-Mailroom-Delivery': delivery.id,
    },
  };
  if (delivery.relayId) outgoing.relayId = delivery.relayId;
  const returnPath = context.returnPath?.(entry.id);
  if (returnPath) outgoing.returnPath = returnPath;
  // Whatever the ids and values hold, no header gets a line break (the MIME writer checks again).
  checkHeaders(outgoing);
  return outgoing;
}
