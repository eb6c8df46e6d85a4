/**
 * Who is signed in, and with which role. Offline, the last signed-in operator keeps working
 * on local data with the role the server last gave them (the server checks it again when
 * anything reaches it).
 */

import { m } from '$lib/i18n.svelte';
import { allows, ROLES, type Permission, type Role } from '$shared/roles';
import { client, refusalOf } from '../api';
import { roleDescription, roleWord } from '../roles-words';
import { SERVER_PUBLIC_URL } from '../db/db';
import { db } from '../db/instance';

const REMEMBERED = 'mailroom.operator';
const REMEMBERED_ROLE = 'mailroom.role';

/** What GET /api/session answers. */
interface SessionAnswer {
  username: string;
  role?: string;
  publicUrl: string;
}

/** Returns the role named, or null for anything else (a server that does not say, a stale value). */
const roleOf = (value: unknown): Role | null => ((ROLES as readonly unknown[]).includes(value) ? (value as Role) : null);

/** Returns the sentence a refusal gives the role, in the app's language (in English, refusedFor's in shared/roles.ts). */
function refusal(role: Role, permission: Permission): string {
  const as = { role: roleWord(role), description: roleDescription(role) };
  return permission === 'admin' ? m.worker_refused_admin(as) : m.worker_refused_work(as);
}

export class Session {
  #user = $state<string | null>(null);
  #role = $state<Role | null>(null);
  #checked = $state(false);
  #offline = $state(false);

  get user() {
    return this.#user;
  }
  /** The signed-in operator's role; null when signed out (or before the server said). */
  get role() {
    return this.#role;
  }
  /** True once the first check has answered. */
  get checked() {
    return this.#checked;
  }
  /** True when the server could not be reached at the last check. */
  get offline() {
    return this.#offline;
  }

  /** Returns true when the signed-in operator's role allows what the permission covers. */
  can(permission: Permission): boolean {
    return allows(this.#role, permission);
  }

  /**
   * Returns null when the role allows what the permission covers, or the sentence saying why
   * not (for a control's title, or beside it).
   */
  whyNot(permission: Permission): string | null {
    if (this.can(permission)) return null;
    return this.#role ? refusal(this.#role, permission) : m.worker_role_unknown();
  }

  /** Asks the server who is signed in; offline, trusts the operator and role remembered on this device. */
  async check(): Promise<void> {
    try {
      // Plain fetch: the answer's role is read whether or not the typed client knows it yet.
      const response = await fetch('/api/session', { headers: { accept: 'application/json' } });
      this.#offline = false;
      if (response.ok) {
        const { username, role, publicUrl } = (await response.json()) as SessionAnswer;
        // A server that names no role predates roles, when every operator was an admin.
        this.#remember(username, role === undefined ? 'admin' : roleOf(role));
        // Kept on the device: preparations (offline too) check that recipients can reach the links.
        await db.meta.put({ key: SERVER_PUBLIC_URL, value: publicUrl });
      } else {
        this.#forget();
      }
    } catch {
      this.#offline = true;
      this.#user = localStorage.getItem(REMEMBERED);
      this.#role = this.#user ? roleOf(localStorage.getItem(REMEMBERED_ROLE)) : null;
    } finally {
      this.#checked = true;
    }
  }

  /** Returns null when signed in, or the sentence saying why not. */
  async signIn(username: string, password: string): Promise<string | null> {
    try {
      const response = await client.api.session.$post({ json: { username, password } });
      if (!response.ok) return (await refusalOf(response)).message;
      this.#offline = false;
      this.#remember(username, null);
      await this.check(); // the role, and what the server says of itself (its public address), kept for offline work
      return null;
    } catch {
      return m.worker_sign_in_unreachable();
    }
  }

  async signOut(): Promise<void> {
    await client.api.session.$delete().catch(() => undefined);
    this.#forget();
  }

  #remember(username: string, role: Role | null) {
    this.#user = username;
    this.#role = role;
    localStorage.setItem(REMEMBERED, username);
    if (role) localStorage.setItem(REMEMBERED_ROLE, role);
    else localStorage.removeItem(REMEMBERED_ROLE);
  }

  #forget() {
    this.#user = null;
    this.#role = null;
    localStorage.removeItem(REMEMBERED);
    localStorage.removeItem(REMEMBERED_ROLE);
  }
}

export const session = new Session();
