/**
 * The outbox: a Send is written here first, then the prepared batch goes to the server in
 * chunks — its recipients, then its exclusions — each acknowledged once on the server's disk. The item survives reloads and
 * retries with backoff; offline, it waits and the dashboard says so.
 *
 * A Send can be cancelled until its command leaves for the server: the upload checks before
 * every chunk and, without yielding in between, right before the command. Parts already
 * uploaded stay on the server unused (a batch it holds as `prepared` and never sends by
 * itself), and the next Send of the delivery completes or replaces them.
 */

import { m, number } from '$lib/i18n.svelte';
import { client, refusalOf } from '../api';
import { batchHeader } from '$shared/handoff';
import type { SendKpis } from '$shared/types';
import type { MailroomDb, OutboxItem, ProofItem, ProofRequest, SendItem } from '../db/db';
import { CHUNK_SIZE, exclusionChunkCount, exclusionsOfChunk, recipientsOfChunk } from '../db/prepared-batch';

const MAX_BACKOFF_MS = 30_000;

class Refused extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'Refused';
  }
}

/** The marketer cancelled the Send while it was being uploaded. */
class Cancelled extends Error {
  constructor() {
    super('The Send was cancelled.');
    this.name = 'Cancelled';
  }
}

export class Outbox {
  #busy = false;
  #again = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** Items cancelled in this tab: an upload of one stops before its next step. */
  readonly #cancelled = new Set<number>();
  /** The item whose Send command is on its way to the server (too late to cancel). */
  #commanding: number | null = null;

  /**
   * @param beforeUpload shares the team's waiting edits first (the work sync): once the batch
   * is handed over the server takes no more edits of the delivery, so an edit still waiting
   * would be refused and the team's copy would not say what was sent.
   */
  constructor(
    private readonly db: MailroomDb,
    private readonly beforeUpload: () => Promise<void> = async () => {},
  ) {}

  /** Starts processing now, on reconnect, and after each backoff. */
  start(): () => void {
    const kick = () => void this.process();
    window.addEventListener('online', kick);
    kick();
    return () => window.removeEventListener('online', kick);
  }

  /** Queues the prepared batch of a delivery for sending (now, or at `scheduledAt`). */
  async enqueueSend(deliveryId: string, contentHash: string, scheduledAt: string | null): Promise<void> {
    const recipients = (await this.db.preparations.get(deliveryId))?.kpis.toDeliver ?? 0;
    await this.db.transaction('rw', this.db.outbox, async () => {
      await this.db.outbox.where('deliveryId').equals(deliveryId).delete();
      await this.db.outbox.add({
        deliveryId,
        kind: 'send',
        contentHash,
        scheduledAt,
        chunksDone: 0,
        chunkCount: Math.max(1, Math.ceil(recipients / CHUNK_SIZE)),
        state: 'waiting',
        attempts: 0,
        lastError: null,
        createdAt: new Date().toISOString(),
      });
    });
    void this.process();
  }

  /**
   * Sends a proof now, or, when the server cannot be reached, keeps it for later. Returns
   * what happened, in words for the marketer.
   */
  async sendProof(deliveryId: string, proof: ProofRequest): Promise<{ ok: boolean; message: string }> {
    try {
      const response = await client.api.proofs.$post({ json: proof });
      if (!response.ok) return { ok: false, message: (await refusalOf(response)).message };
      const { sent, failed } = await response.json();
      if (failed.length)
        return {
          ok: false,
          message: m.worker_proofs_refused({ sent: number(sent), refused: failed.map((f) => `${f.to} (${f.reply})`).join(', ') }),
        };
      return { ok: true, message: m.worker_proofs_sent({ count: sent, shown: number(sent), to: proof.to.join(', ') }) };
    } catch {
      await this.db.outbox.add({
        kind: 'proof',
        deliveryId,
        proof,
        state: 'waiting',
        attempts: 0,
        lastError: null,
        createdAt: new Date().toISOString(),
      });
      return { ok: true, message: m.worker_proof_offline() };
    }
  }

  /**
   * Cancels the Send of a delivery waiting in the outbox, unless its command is already on its
   * way to the server. Returns what happened, in words for the marketer.
   */
  async cancelSend(deliveryId: string): Promise<{ ok: boolean; message: string }> {
    const items = await this.db.outbox.where('deliveryId').equals(deliveryId).toArray();
    const item = items.find((i): i is SendItem => i.kind === 'send');
    if (!item) return { ok: false, message: m.worker_no_send_waiting() };
    // No await between this check and the mark: the upload checks the mark right before the command.
    if (this.#commanding === item.id) {
      return { ok: false, message: m.worker_too_late_to_cancel() };
    }
    this.#cancelled.add(item.id!);
    await this.db.outbox.delete(item.id!);
    if (item.chunksDone === 0) return { ok: true, message: m.worker_send_cancelled() };
    return { ok: true, message: m.worker_send_cancelled_parts({ done: number(item.chunksDone), count: number(item.chunkCount) }) };
  }

  /** Drops a refused item so the marketer can prepare and send again. */
  async discard(id: number): Promise<void> {
    await this.db.outbox.delete(id);
  }

  /** Works through the waiting items, one at a time. */
  async process(): Promise<void> {
    if (this.#busy) {
      this.#again = true;
      return;
    }
    this.#busy = true;
    clearTimeout(this.#timer);
    let retryIn = 0;
    try {
      do {
        this.#again = false;
        const items = (await this.db.outbox.toArray()).filter((i) => i.state !== 'refused');
        for (const item of items) {
          if (!navigator.onLine) {
            retryIn = MAX_BACKOFF_MS;
            break;
          }
          const wait = await this.deliver(item);
          if (wait) retryIn = retryIn ? Math.min(retryIn, wait) : wait;
        }
      } while (this.#again);
    } finally {
      this.#busy = false;
    }
    if (retryIn) this.#timer = setTimeout(() => void this.process(), retryIn);
  }

  /** Returns 0 when the item is done or refused, or the backoff before the next try. */
  private async deliver(item: OutboxItem): Promise<number> {
    const id = item.id!;
    try {
      await this.db.outbox.update(id, { state: 'uploading' });
      if (item.kind === 'proof') await this.sendQueuedProof(item);
      else await this.upload(item);
      return 0;
    } catch (error) {
      if (error instanceof Cancelled) return 0;
      if (error instanceof Refused) {
        await this.db.outbox.update(id, { state: 'refused', lastError: error.message });
        return 0;
      }
      const attempts = item.attempts + 1;
      // Kept with the item, in the language of the moment (as the server's refusals are kept in theirs).
      const message = error instanceof Error && error.name === 'Unauthorized' ? error.message : m.worker_send_unreachable();
      await this.db.outbox.update(id, { state: 'waiting', attempts, lastError: message });
      return Math.min(MAX_BACKOFF_MS, 1000 * 2 ** Math.min(attempts, 5));
    }
  }

  private async sendQueuedProof(item: ProofItem): Promise<void> {
    await expectOk(client.api.proofs.$post({ json: item.proof }));
    await this.db.outbox.delete(item.id!);
  }

  private async upload(item: SendItem): Promise<void> {
    const { deliveryId, contentHash } = item;
    await this.beforeUpload();
    const delivery = await this.db.deliveries.get(deliveryId);
    const preparation = await this.db.preparations.get(deliveryId);
    if (!delivery || !preparation || preparation.contentHash !== contentHash) {
      throw new Refused(m.worker_preparation_changed());
    }
    const param = { id: deliveryId };
    // The parts: the recipients' chunks, then the exclusions' (so the server's log lists who was
    // excluded, by which rule). An item queued by an older app counted the recipients' only.
    const recipientParts = Math.max(1, Math.ceil(preparation.kpis.toDeliver / CHUNK_SIZE));
    const exclusionParts = await exclusionChunkCount(this.db, deliveryId);
    const parts = recipientParts + exclusionParts;
    if (item.chunkCount !== parts) await this.db.outbox.update(item.id!, (stored) => void ((stored as SendItem).chunkCount = parts));
    await expectOk(
      client.api.deliveries[':id'].batch.$put({
        param,
        json: batchHeader(delivery, preparation.kpis, contentHash, recipientParts, exclusionParts, preparation.seeds),
      }),
    );
    for (let seq = item.chunksDone + 1; seq <= parts; seq++) {
      if (this.#cancelled.has(item.id!)) throw new Cancelled();
      // One part in memory at a time, as it is stored: at most CHUNK_SIZE recipients or exclusions.
      const json =
        seq <= recipientParts
          ? { contentHash, recipients: await recipientsOfChunk(this.db, deliveryId, seq) }
          : { contentHash, exclusions: await exclusionsOfChunk(this.db, deliveryId, seq - recipientParts) };
      await expectOk(client.api.deliveries[':id'].batch.chunks[':seq'].$put({ param: { ...param, seq: String(seq) }, json }));
      await this.db.outbox.update(item.id!, (stored) => void ((stored as SendItem).chunksDone = seq));
    }
    await expectOk(client.api.deliveries[':id'].batch.commit.$post({ param, json: { contentHash } }));
    // Cancelled here, or in another tab (the item is gone): the batch stays on the server, unsent.
    const waiting = await this.db.outbox.get(item.id!);
    if (!waiting || this.#cancelled.has(item.id!)) throw new Cancelled();
    this.#commanding = item.id!;
    try {
      await this.command(item, param);
    } finally {
      this.#commanding = null;
    }
  }

  /** Sends the Send command for an uploaded batch and records what the server says. */
  private async command(item: SendItem, param: { id: string }): Promise<void> {
    const { deliveryId, contentHash } = item;
    const sent = await client.api.deliveries[':id'].send.$post({ param, json: { contentHash, scheduledAt: item.scheduledAt } });
    let kpis: SendKpis;
    if (sent.ok) kpis = (await sent.json()) as SendKpis;
    else {
      // A lost answer to an earlier try: the server may already be sending it.
      const refusal = await refusalOf(sent);
      const current = await client.api.deliveries[':id'].$get({ param });
      const figures = current.ok ? ((await current.json()) as SendKpis) : null;
      if (refusal.error !== 'invalid-transition' || !figures || figures.status === 'prepared') throw new Refused(refusal.message);
      kpis = figures;
    }
    await this.db.transaction('rw', [this.db.outbox, this.db.deliveries], async () => {
      await this.db.outbox.delete(item.id!);
      await this.db.deliveries.update(deliveryId, { server: kpis });
    });
  }
}

async function expectOk(request: Promise<Response>): Promise<void> {
  const response = await request;
  if (response.ok) return;
  const refusal = await refusalOf(response);
  if (response.status === 401) {
    const error = new Error(m.worker_sign_in_to_send());
    error.name = 'Unauthorized';
    throw error;
  }
  if (response.status >= 500) throw new Error(refusal.message);
  throw new Refused(refusal.message);
}
