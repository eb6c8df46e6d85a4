/**
 * The team's work as documents: deliveries (from their first keystroke) and typologies. A
 * document is a set of fields, each written whole by the last writer, "last" as a hybrid
 * logical clock says (hlc.ts). The server is where the documents meet: a device pushes its
 * edits, the server merges them field by field (`mergeEdits`), numbers the change, and every
 * device pulls the changes since its cursor, as it pulls the audience.
 *
 * An edit names the stamp of the value its author saw (`base`). When that is not the stamp
 * the server holds, someone else wrote the field meanwhile: the later of the two wins, and
 * the other is kept in `overwritten`, with its text, for its author to take back. No edit is
 * ever dropped without a trace, however long a device was offline.
 */

import type { DeliveryStatus } from './types';

export type WorkKind = 'delivery' | 'typology' | 'template';

/** The fields of a delivery a person edits, each merged on its own. */
export const DELIVERY_FIELDS = [
  'name',
  'fromName',
  'fromAddress',
  'subject',
  'preheader',
  'html',
  'text',
  'source',
  'audience',
  'scheduledAt',
  'typologyId',
  'relayId',
  'experiment',
  'seeds',
  'localTime',
  'waves',
  'translations',
  /** What the last preparation was (its content hash and figures); its author is the preparer. */
  'preparation',
] as const;
export const TYPOLOGY_FIELDS = ['name', 'rules', 'requiresApproval', 'seeds'] as const;
/** A template of the team: content a delivery starts from (saved from one, offered in the gallery beside the starters). */
export const TEMPLATE_FIELDS = ['name', 'description', 'subject', 'preheader', 'html', 'text', 'source'] as const;
export type DeliveryField = (typeof DELIVERY_FIELDS)[number];
export type TypologyField = (typeof TYPOLOGY_FIELDS)[number];
export type TemplateField = (typeof TEMPLATE_FIELDS)[number];

/** The fields whose change makes a new preparation necessary (all of a delivery's but `preparation`). */
export const CONTENT_FIELDS: readonly string[] = DELIVERY_FIELDS.filter((f) => f !== 'preparation' && f !== 'relayId');

/** The words for a field in sentences ("your edit of the subject was replaced"). */
export const FIELD_LABELS: Record<string, string> = {
  name: 'the name',
  description: 'the description',
  fromName: 'the From name',
  fromAddress: 'the From address',
  subject: 'the subject',
  preheader: 'the preheader',
  text: 'the text part',
  html: 'the HTML body',
  source: 'the MJML or the builder’s blocks',
  audience: 'the audience',
  scheduledAt: 'the schedule',
  typologyId: 'the typology',
  relayId: 'the relay',
  experiment: 'the A/B test',
  seeds: 'the seed addresses',
  localTime: 'the local send time',
  waves: 'the waves',
  translations: 'the content by language',
  preparation: 'the preparation',
  rules: 'the rules',
  requiresApproval: 'the approval setting',
};

export const fieldsOf = (kind: WorkKind): readonly string[] =>
  kind === 'delivery' ? DELIVERY_FIELDS : kind === 'typology' ? TYPOLOGY_FIELDS : TEMPLATE_FIELDS;

/** Who wrote a field's value, and when by the clock. */
export interface FieldStamp {
  hlc: string;
  by: string;
}

/** A value that lost to another writer's, kept so its author can take it back. */
export interface Overwritten {
  /** Unique in the document: the lost edit's stamp. */
  id: string;
  field: string;
  value: unknown;
  by: string;
  hlc: string;
  /** Who wrote the value that won, and when. */
  replacedBy: string;
  replacedAt: string;
}

/** The summary of a preparation a device recorded (the `preparation` field's value). */
export interface PreparationSummary {
  contentHash: string;
  preparedAt: string;
  targeted: number;
  toDeliver: number;
  excluded: number;
}

/** An approval: of one preparation (its content hash), by another operator than its preparer. */
export interface Approval {
  contentHash: string;
  by: string;
  at: string;
}

export interface WorkDoc {
  id: string;
  kind: WorkKind;
  /** The change number of its last change: devices pull by it. */
  seq: number;
  /** How many changes were accepted: a typology's version. */
  version: number;
  fields: Record<string, unknown>;
  stamps: Record<string, FieldStamp>;
  overwritten: Overwritten[];
  createdBy: string;
  createdAt: string;
  updatedBy: string;
  updatedAt: string;
  deleted: boolean;
  /** Deliveries: the approval of record, if any (it names the content hash it approves). */
  approval: Approval | null;
  /** Deliveries: the status on the server once handed over (its content is then locked); null before. */
  serverStatus: DeliveryStatus | null;
}

/** One field's edit as a device pushes it. */
export interface FieldEdit {
  value: unknown;
  hlc: string;
  /** The stamp of the value the author saw when editing (null: none, a new field). */
  base: string | null;
}

/** A device's edits of one document. */
export interface DocPush {
  id: string;
  kind: WorkKind;
  edits: Record<string, FieldEdit>;
  /** Set to delete the document (a draft, a typology) at this clock reading. */
  deleteAt?: string;
  /** Overwritten entries its author has seen and let go (by id). */
  dismiss?: string[];
}

/** What a merge did, for the audit log and the answer. */
export interface MergeOutcome {
  doc: WorkDoc;
  /** Fields whose value changed. */
  changed: string[];
  created: boolean;
  deleted: boolean;
  /** Edits refused: the delivery is handed over, its content locked (kept in `overwritten`). */
  locked: string[];
}

/** Statuses after which a delivery's content no longer changes (it is the server's now). */
const LOCKED: ReadonlySet<DeliveryStatus> = new Set(['scheduled', 'sending', 'paused', 'stopped', 'completed']);
export const isLocked = (status: DeliveryStatus | null) => status !== null && LOCKED.has(status);

/** At most this many overwritten values are kept per document (the oldest go first). */
const OVERWRITTEN_LIMIT = 50;

/**
 * Returns the document after a device's push, merged field by field: an edit wins when its
 * stamp is later than the one held. Pushing the same edits again changes nothing (equal
 * stamps do not win), so a push retried after a lost answer is applied once.
 */
export function mergeEdits(
  current: WorkDoc | undefined,
  push: DocPush,
  by: string,
  at: string,
  serverStatus: DeliveryStatus | null,
): MergeOutcome {
  const doc: WorkDoc = current
    ? { ...current, fields: { ...current.fields }, stamps: { ...current.stamps }, overwritten: [...current.overwritten] }
    : {
        id: push.id,
        kind: push.kind,
        seq: 0,
        version: 0,
        fields: {},
        stamps: {},
        overwritten: [],
        createdBy: by,
        createdAt: at,
        updatedBy: by,
        updatedAt: at,
        deleted: false,
        approval: null,
        serverStatus,
      };
  doc.serverStatus = serverStatus;
  const changed: string[] = [];
  const locked: string[] = [];
  const allowed = fieldsOf(doc.kind);
  for (const [field, edit] of Object.entries(push.edits)) {
    if (!allowed.includes(field)) continue;
    const held = doc.stamps[field];
    if (held && edit.hlc <= held.hlc) {
      // Lost to a later writer it had not seen: keep it for its author.
      if (edit.hlc !== held.hlc && edit.base !== held.hlc && !same(edit.value, doc.fields[field])) {
        keep(doc, { id: edit.hlc, field, value: edit.value, by, hlc: edit.hlc, replacedBy: held.by, replacedAt: held.hlc });
      }
      continue;
    }
    if (doc.kind === 'delivery' && isLocked(serverStatus) && field !== 'preparation') {
      locked.push(field);
      keep(doc, { id: edit.hlc, field, value: edit.value, by, hlc: edit.hlc, replacedBy: 'the server', replacedAt: at });
      continue;
    }
    // Wins; a value written meanwhile by someone who had not seen this one is kept for them.
    if (held && edit.base !== held.hlc && !same(edit.value, doc.fields[field])) {
      keep(doc, { id: held.hlc, field, value: doc.fields[field], by: held.by, hlc: held.hlc, replacedBy: by, replacedAt: edit.hlc });
    }
    if (!same(edit.value, doc.fields[field]) || !held) changed.push(field);
    doc.fields[field] = edit.value;
    doc.stamps[field] = { hlc: edit.hlc, by };
  }
  let deleted = false;
  if (push.deleteAt && !doc.deleted && !(doc.kind === 'delivery' && serverStatus !== null)) {
    doc.deleted = deleted = true;
  }
  const dismissed = new Set(push.dismiss ?? []);
  // Only its author lets a kept value go.
  doc.overwritten = doc.overwritten.filter((o) => !(dismissed.has(o.id) && o.by === by));
  if (changed.length > 0 || deleted || !current) {
    doc.version += 1;
    doc.updatedBy = by;
    doc.updatedAt = at;
  }
  return { doc, changed, created: !current, deleted, locked };
}

/** True when the merge changed anything a device must pull. */
export const mergeChanged = (before: WorkDoc | undefined, outcome: MergeOutcome) =>
  !before ||
  outcome.changed.length > 0 ||
  outcome.deleted ||
  JSON.stringify(before.overwritten) !== JSON.stringify(outcome.doc.overwritten) ||
  before.serverStatus !== outcome.doc.serverStatus;

function keep(doc: WorkDoc, entry: Overwritten): void {
  if (doc.overwritten.some((o) => o.id === entry.id && o.field === entry.field)) return;
  doc.overwritten.push(entry);
  if (doc.overwritten.length > OVERWRITTEN_LIMIT) doc.overwritten.splice(0, doc.overwritten.length - OVERWRITTEN_LIMIT);
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/** Returns the sentence a person reads for a value of theirs that was replaced. */
export function overwrittenSentence(entry: Overwritten): string {
  const what = FIELD_LABELS[entry.field] ?? entry.field;
  if (entry.replacedBy === 'the server') return `Your edit of ${what} was not applied: the delivery was handed to the server for sending.`;
  return `Your edit of ${what} was replaced by ${entry.replacedBy}'s.`;
}

/** What a delivery's approval looks like now, for the page and the server's Send. */
/** Waiting: `message` says it in English (the server's refusal); `earlierBy` and `preparedBy` let a page say it in its language. */
export type ApprovalState =
  | { kind: 'not-needed' }
  | { kind: 'approved'; by: string; at: string }
  | { kind: 'waiting'; message: string; earlierBy: string | null; preparedBy: string | null };

/**
 * Returns whether a preparation (by its content hash) may be sent as far as approval goes:
 * the typology may ask for one, and an approval names the content hash it approves, so
 * approving one version does not approve the next.
 */
export function approvalState(input: {
  requiresApproval: boolean;
  approval: Approval | null;
  preparedBy: string | null;
  contentHash: string;
}): ApprovalState {
  if (!input.requiresApproval) return { kind: 'not-needed' };
  const { approval } = input;
  if (approval && approval.contentHash === input.contentHash) return { kind: 'approved', by: approval.by, at: approval.at };
  const who = input.preparedBy ? `another operator than ${input.preparedBy}, who prepared it,` : 'another operator than its preparer';
  if (approval) {
    return {
      kind: 'waiting',
      message: `${approval.by} approved an earlier preparation; this one needs a new approval by ${who} before it can be sent.`,
      earlierBy: approval.by,
      preparedBy: input.preparedBy,
    };
  }
  return {
    kind: 'waiting',
    message: `This delivery's typology asks for approval: ${who} must approve it before it can be sent.`,
    earlierBy: null,
    preparedBy: input.preparedBy,
  };
}
