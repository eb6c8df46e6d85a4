/**
 * This process as a node of the cluster: it joins (the nodes table), says every
 * HEARTBEAT_MS that it is alive, and hears how many nodes are alive, so that it takes its
 * share of the sending budget. A node that stops saying it is alive is dead for the others
 * after NODE_TTL_MS: its rows in flight become unknown (store/journal.ts).
 */

import { hostname } from 'node:os';
import { HEARTBEAT_MS } from '../store/nodes';
import type { Stores } from '../store/stores';

export interface Membership {
  /** Nodes alive when it last looked, this one included. */
  readonly nodes: number;
  /** Stops the heartbeat and leaves, so the others count this node out at once. */
  leave(): Promise<void>;
}

/**
 * Joins the cluster as `stores.nodeId`; resolves once joined. `onNodes` hears each change
 * of the number of nodes alive; failures of a heartbeat go to `warn` (the next one tries again).
 */
export async function joinCluster(
  stores: Stores,
  onNodes: (count: number) => Promise<void>,
  warn: (error: Error) => void,
  heartbeatMs = HEARTBEAT_MS,
): Promise<Membership> {
  const id = stores.nodeId;
  await stores.nodes.join({ id, host: hostname(), pid: process.pid, startedAt: new Date().toISOString() }, new Date());
  let nodes = (await stores.nodes.live(new Date())).length;
  let beating: Promise<void> = Promise.resolve();
  const timer = setInterval(() => {
    beating = (async () => {
      await stores.nodes.heartbeat(id, new Date());
      const live = (await stores.nodes.live(new Date())).length;
      if (live !== nodes) {
        nodes = live;
        await onNodes(live);
      }
    })().catch(warn);
  }, heartbeatMs);
  timer.unref();
  return {
    get nodes() {
      return nodes;
    },
    async leave() {
      clearInterval(timer);
      await beating;
      await stores.nodes.leave(id, new Date()).catch(warn);
    },
  };
}
