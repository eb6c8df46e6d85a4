/**
 * The live bus of several nodes on one PostgreSQL database: a node's changes, coalesced per
 * interval, are sent with NOTIFY; every node (this one too) LISTENs and tells its own
 * listeners. So a dashboard connected to any node sees what every node sends; no sticky
 * sessions are needed behind a load balancer. Signals (the settings changed) travel the same way.
 */

import type postgres from 'postgres';
import { Coalescer, Listeners, type LiveBus, type Listener, type Signal } from './live-bus';

const CHANGES = 'mailroom_changes';
const SIGNALS = 'mailroom_signals';
/** A NOTIFY payload is at most 8,000 bytes: delivery ids (at most 64 characters each) go in groups that fit. */
const IDS_PER_NOTICE = 100;

export class PostgresBus implements LiveBus {
  private readonly listeners = new Listeners();
  private readonly coalescer: Coalescer;
  private readonly stops: Promise<{ unlisten(): Promise<void> }>[] = [];
  private closed = false;

  /** Resolves a bus listening on the database; `intervalMs` is the shortest time between two updates of one delivery. */
  static async open(sql: postgres.Sql, intervalMs = 250): Promise<PostgresBus> {
    const bus = new PostgresBus(sql, intervalMs);
    await Promise.all(bus.stops);
    return bus;
  }

  private constructor(
    private readonly sql: postgres.Sql,
    intervalMs: number,
  ) {
    this.coalescer = new Coalescer(intervalMs, (ids) => void this.publish(ids));
    this.stops.push(
      sql.listen(CHANGES, (payload) => this.listeners.tell(JSON.parse(payload) as string[])),
      sql.listen(SIGNALS, (payload) => this.listeners.tellSignal(payload as Signal)),
    );
  }

  subscribe(deliveryId: string, listener: Listener): () => void {
    return this.listeners.subscribe(deliveryId, listener);
  }

  changed(deliveryId: string): void {
    if (!this.closed) this.coalescer.add(deliveryId);
  }

  signal(signal: Signal): void {
    if (!this.closed) void this.sql.notify(SIGNALS, signal).catch(() => undefined);
  }

  onSignal(signal: Signal, listener: () => void): () => void {
    return this.listeners.onSignal(signal, listener);
  }

  close(): void {
    this.closed = true;
    this.coalescer.close();
    this.listeners.clear();
    for (const stop of this.stops) void stop.then((s) => s.unlisten()).catch(() => undefined);
  }

  /** Sends the changed ids to every node, in notices that fit. */
  private async publish(ids: string[]): Promise<void> {
    for (let i = 0; i < ids.length; i += IDS_PER_NOTICE) {
      await this.sql.notify(CHANGES, JSON.stringify(ids.slice(i, i + IDS_PER_NOTICE))).catch(() => undefined);
    }
  }
}
