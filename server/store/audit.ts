/**
 * The audit log: who did what to which object, and when. Rows are only ever added; the log
 * reads newest first, by object (a delivery's own history) or by actor and action.
 */

/** What the log records. Each is one operator's (or token's) action on one object. */
export const AUDIT_ACTIONS = [
  'created',
  'edited',
  'duplicated',
  'prepared',
  'approved',
  'sent',
  'scheduled',
  'unscheduled',
  'paused',
  'resumed',
  'stopped',
  'settled-unknown',
  'winner-chosen',
  'deleted',
  'settings-changed',
  'imported',
  'denylisted',
  'undenylisted',
  'profiles-deleted',
  'operator-created',
  'operator-changed',
  'password-reset',
  'token-created',
  'token-revoked',
  'uploaded',
  'webhook-created',
  'webhook-removed',
  'form-saved',
  'form-removed',
  'profile-exported',
  'profile-erased',
] as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[number];

export type AuditObjectKind =
  'delivery' | 'typology' | 'settings' | 'audience' | 'operator' | 'token' | 'template' | 'asset' | 'webhook' | 'form';

export interface AuditEntry {
  id: number;
  at: string;
  /** The operator's username, or `token:<name>` for an API token. */
  actor: string;
  action: AuditAction;
  objectKind: AuditObjectKind;
  objectId: string;
  /** The object's name when the action happened (a delivery's name, a file's), for people. */
  objectName: string;
  /** One sentence of what changed ("scheduled for 2026-12-03T09:00:00.000Z", "2 of 3 fields"). */
  detail: string;
}

export interface AuditFilter {
  objectId?: string;
  actor?: string;
  action?: AuditAction;
  /** Entries older than this id (paging newest first); none: from the newest. */
  before?: number;
  limit: number;
}

export interface AuditStore {
  record(entry: Omit<AuditEntry, 'id'>): Promise<void>;
  /** Returns the entries matching the filter, newest first. */
  list(filter: AuditFilter): Promise<AuditEntry[]>;
}
