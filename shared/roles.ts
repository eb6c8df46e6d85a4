/**
 * Operators' roles and what each may do. The server enforces them (403 with a sentence);
 * the app hides or disables what the signed-in role may not do, from the same table.
 */

export const ROLES = ['admin', 'marketer', 'viewer'] as const;
export type Role = (typeof ROLES)[number];

/**
 * `read`: see everything; `work`: the audience, deliveries, typologies, proofs, approving and
 * sending; `admin`: the settings, operators and API tokens.
 */
export type Permission = 'read' | 'work' | 'admin';

const GRANTS: Record<Role, readonly Permission[]> = {
  admin: ['read', 'work', 'admin'],
  marketer: ['read', 'work'],
  viewer: ['read'],
};

export const ROLE_LABELS: Record<Role, string> = { admin: 'Admin', marketer: 'Marketer', viewer: 'Viewer' };

export const ROLE_DESCRIPTIONS: Record<Role, string> = {
  admin: 'settings, operators and API tokens, and everything a marketer does',
  marketer: 'the audience, deliveries and typologies: prepares, approves and sends',
  viewer: 'reads everything and changes nothing',
};

/** Returns true when the role may do what the permission covers. */
export const allows = (role: Role | null | undefined, permission: Permission): boolean => !!role && GRANTS[role].includes(permission);

/** Returns the sentence a refusal gives a role that may not do this. */
export function refusedFor(role: Role, permission: Permission): string {
  const what = permission === 'admin' ? 'Only an admin may do this' : 'Your role does not allow changes';
  return `${what}: you are signed in as ${ROLE_LABELS[role].toLowerCase()} (${ROLE_DESCRIPTIONS[role]}). Ask an admin for another role.`;
}
