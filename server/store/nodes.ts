/**
 * The nodes of a cluster: every Mailroom process sharing one database says it is alive
 * (a heartbeat); a node that stops saying so is dead, and its claims expire with it.
 * One SQLite file has one node.
 */

export interface NodeInfo {
  id: string;
  host: string;
  pid: number;
  startedAt: string;
  /** When it last said it was alive (ms since epoch). */
  seenAt: number;
}

/** A node that has not said it is alive for this long is dead: its rows in flight become unknown. */
export const NODE_TTL_MS = 15_000;
/** How often a node says it is alive. */
export const HEARTBEAT_MS = 3_000;

export interface NodeStore {
  /** Records the node as alive now (its first heartbeat). */
  join(node: Omit<NodeInfo, 'seenAt'>, now: Date): Promise<void>;
  /** Says the node is still alive. */
  heartbeat(id: string, now: Date): Promise<void>;
  /** Returns the nodes seen within NODE_TTL_MS, this one included. */
  live(now: Date): Promise<NodeInfo[]>;
  /** Forgets a node that stops cleanly (and the dead ones), so the others count it out at once. */
  leave(id: string, now: Date): Promise<void>;
}
