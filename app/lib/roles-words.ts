/**
 * The roles in the app's language. shared/roles.ts keeps them in English for the server (its
 * refusals); the app shows them through these, read at the moment of display, so they follow
 * a change of language. In English they are shared/roles.ts's words, letter for letter.
 */

import type { Role } from '$shared/roles';
import { m } from '$lib/i18n.svelte';

const LABELS: Record<Role, () => string> = {
  admin: m.team_role_admin,
  marketer: m.team_role_marketer,
  viewer: m.team_role_viewer,
};

const DESCRIPTIONS: Record<Role, () => string> = {
  admin: m.team_role_admin_description,
  marketer: m.team_role_marketer_description,
  viewer: m.team_role_viewer_description,
};

/** Returns the role's name, as a title or an option shows it ("Admin"). */
export const roleLabel = (role: Role): string => LABELS[role]();

/** Returns the role's name inside a sentence ("signed in as admin"). */
export const roleWord = (role: Role): string => LABELS[role]().toLowerCase();

/** Returns what the role may do, in a few words that follow its name. */
export const roleDescription = (role: Role): string => DESCRIPTIONS[role]();
