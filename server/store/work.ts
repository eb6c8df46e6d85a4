/**
 * The team's documents of record — drafts and typologies (shared/work.ts) — numbered by
 * change like the audience: a device pulls every document changed after its cursor, in
 * pages, deleted ones as tombstones. Pushes are merged field by field under one lock, so
 * change numbers are taken and committed in order and a pull never skips one.
 */

import { DEFAULT_TYPOLOGY_ID } from '../../shared/typology';
import type { DeliveryStatus } from '../../shared/types';
import type { Approval, DocPush, MergeOutcome, WorkDoc } from '../../shared/work';

export interface WorkPage {
  docs: WorkDoc[];
  /** The change number to ask after next. */
  cursor: number;
  hasMore: boolean;
}

/** A push the store refused before merging, with the sentence why. */
export interface PushRefusal {
  id: string;
  message: string;
}

/** Checks a merge before it is written: a refusal sentence, or null to go ahead. */
export type PushCheck = (current: WorkDoc | undefined, push: DocPush) => Promise<string | null> | string | null;

export interface WorkStore {
  /**
   * Merges each push (shared/work.ts's mergeEdits) by `by` at `at`, all under the change
   * log's lock; a merge that changes nothing is not written and takes no change number.
   * Resolves the outcome of each push `check` let through, and the refusals.
   */
  push(pushes: readonly DocPush[], by: string, at: string, check: PushCheck): Promise<{ outcomes: MergeOutcome[]; refused: PushRefusal[] }>;
  changesSince(cursor: number, limit: number): Promise<WorkPage>;
  get(id: string): Promise<WorkDoc | undefined>;
  /** Names of the drafts (delivery documents not deleted nor handed over) whose typology is `typologyId`. */
  deliveriesUsing(typologyId: string): Promise<string[]>;
  /** Records an approval on a delivery's document (a change devices pull); resolves the document. */
  approve(id: string, approval: Approval): Promise<WorkDoc | undefined>;
  /** The latest change number. */
  cursor(): Promise<number>;
}

/** What the `doc` column holds: the document less what columns and the deliveries table say. */
export type StoredDoc = Omit<WorkDoc, 'id' | 'kind' | 'seq' | 'deleted' | 'serverStatus'>;

export const toStored = ({ id: _id, kind: _kind, seq: _seq, deleted: _deleted, serverStatus: _status, ...rest }: WorkDoc): StoredDoc =>
  rest;

export interface WorkRow {
  id: string;
  kind: WorkDoc['kind'];
  doc: string;
  change_seq: number;
  deleted: number;
  status: DeliveryStatus | null;
}

export const fromRow = (row: WorkRow): WorkDoc => ({
  ...(JSON.parse(row.doc) as StoredDoc),
  id: row.id,
  kind: row.kind,
  seq: Number(row.change_seq),
  deleted: row.deleted === 1,
  serverStatus: row.status ?? null,
});

/** The server's status of a delivery as the work documents see it: null until its batch is committed. */
export const SERVER_STATUS = `(SELECT d.status FROM deliveries d WHERE d.id = w.id AND d.committed = 1)`;

/** Resolves whether the typology of a delivery's document asks for approval (the built-in one does not). */
export async function asksForApproval(work: WorkStore, delivery: WorkDoc): Promise<boolean> {
  const typologyId = String(delivery.fields.typologyId ?? DEFAULT_TYPOLOGY_ID);
  if (typologyId === DEFAULT_TYPOLOGY_ID) return false;
  return (await work.get(typologyId))?.fields.requiresApproval === true;
}
