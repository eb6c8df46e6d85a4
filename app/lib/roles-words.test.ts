import { describe, expect, it } from 'vitest';
import { ROLE_DESCRIPTIONS, ROLE_LABELS, ROLES } from '$shared/roles';
import { roleDescription, roleLabel, roleWord } from './roles-words';

describe('roles in words', () => {
  it.each(ROLES)('says %s in English as shared/roles.ts does', (role) => {
    expect(roleLabel(role)).toBe(ROLE_LABELS[role]);
    expect(roleWord(role)).toBe(ROLE_LABELS[role].toLowerCase());
    expect(roleDescription(role)).toBe(ROLE_DESCRIPTIONS[role]);
  });
});
