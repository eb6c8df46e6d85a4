/** Who is signed in. Offline, the last signed-in operator keeps working on local data. */

import { client, refusalOf } from '../api';
import { SERVER_PUBLIC_URL } from '../db/db';
import { db } from '../db/instance';

const REMEMBERED = 'mailroom.operator';

export class Session {
  #user = $state<string | null>(null);
  #checked = $state(false);
  #offline = $state(false);

  get user() {
    return this.#user;
  }
  /** True once the first check has answered. */
  get checked() {
    return this.#checked;
  }
  /** True when the server could not be reached at the last check. */
  get offline() {
    return this.#offline;
  }

  /** Asks the server who is signed in; offline, trusts the operator remembered on this device. */
  async check(): Promise<void> {
    try {
      const response = await client.api.session.$get();
      this.#offline = false;
      if (response.ok) {
        const { username, publicUrl } = await response.json();
        this.#user = username;
        localStorage.setItem(REMEMBERED, username);
        // Kept on the device: preparations (offline too) check that recipients can reach the links.
        await db.meta.put({ key: SERVER_PUBLIC_URL, value: publicUrl });
      } else {
        this.#user = null;
        localStorage.removeItem(REMEMBERED);
      }
    } catch {
      this.#offline = true;
      this.#user = localStorage.getItem(REMEMBERED);
    } finally {
      this.#checked = true;
    }
  }

  /** Returns null when signed in, or the sentence saying why not. */
  async signIn(username: string, password: string): Promise<string | null> {
    try {
      const response = await client.api.session.$post({ json: { username, password } });
      if (!response.ok) return (await refusalOf(response)).message;
      this.#user = username;
      this.#offline = false;
      localStorage.setItem(REMEMBERED, username);
      await this.check(); // what the server says of itself (its public address), kept for offline work
      return null;
    } catch {
      return 'The server cannot be reached. Check the network and try again.';
    }
  }

  async signOut(): Promise<void> {
    await client.api.session.$delete().catch(() => undefined);
    localStorage.removeItem(REMEMBERED);
    this.#user = null;
  }
}

export const session = new Session();
