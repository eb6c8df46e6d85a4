/**
 * A messenger whose SMTP work runs on its own thread (smtp-worker.ts): the message bytes
 * are built and sent there, so sending uses the machine's second core while the main
 * thread renders the next messages and writes the journal. It keeps the pool's promises
 * (smtp-pool.ts): every message gets an outcome, `unsent` when it never reached the relay.
 */

import { Worker } from 'node:worker_threads';
import type { SmtpOutcome, UnsentOutcome } from './messenger';
import type { Messenger, RelayOptions } from './messenger';
import type { FromSmtpThread, ToSmtpThread } from './smtp-worker';

/**
 * Returns how to start the SMTP thread. Built (`npm run build` bundles this module into
 * dist/server/main.js, beside dist/server/smtp-worker.js) the thread loads the built
 * worker and nothing is compiled at run time. From source (tests, `npm run dev`, under
 * tsx) it registers tsx before loading smtp-worker.ts: a worker's execArgv cannot carry
 * --import. This module's own file name tells which.
 */
function smtpThread(): { script: string | URL; eval: boolean } {
  if (!import.meta.url.endsWith('.ts')) return { script: new URL('./smtp-worker.js', import.meta.url), eval: false };
  const tsx = import.meta.resolve('tsx/esm/api');
  const worker = new URL('./smtp-worker.ts', import.meta.url).href;
  return {
    script: `import(${JSON.stringify(tsx)}).then(({ register }) => { register(); return import(${JSON.stringify(worker)}); });`,
    eval: true,
  };
}

const CLOSED: UnsentOutcome = {
  kind: 'unsent',
  reply: 'ECLOSED the SMTP thread is closed (settings changed or the server is stopping)',
  relay: 'The connection pool for the relay was closed',
};

/** Returns a messenger over a pool (createPooledMessenger) on a thread of its own. */
export function createThreadedMessenger(options: RelayOptions): Messenger {
  const thread = smtpThread();
  // The thread's garbage is short-lived (a message's bytes, its outcome): a young generation of
  // 8 MiB holds it as well as V8's default does, and the process's peak is about 27 MiB lower
  // (bench:send, 50,000 recipients: 199 against 226 MiB, the CPU per message within the noise).
  const worker = new Worker(thread.script, {
    eval: thread.eval,
    workerData: options,
    resourceLimits: { maxYoungGenerationSizeMb: 8 },
  });
  const outcomes = new Map<number, (outcome: SmtpOutcome) => void>();
  const probes = new Map<number, (trouble: UnsentOutcome | null) => void>();
  let nextId = 1;
  let closing: Promise<void> | null = null;
  let closed = () => {};
  let failure: string | null = null;

  worker.on('message', (reply: FromSmtpThread) => {
    if (reply.kind === 'closed') return closed();
    if (reply.kind === 'outcome') {
      outcomes.get(reply.id)?.(reply.outcome);
      outcomes.delete(reply.id);
    } else {
      probes.get(reply.id)?.(reply.trouble);
      probes.delete(reply.id);
    }
  });
  // Should the thread die, what it had is retried (it may have reached the relay), and every
  // later message comes back unsent.
  const fail = (reason: string) => {
    failure ??= reason;
    for (const resolve of outcomes.values()) resolve({ kind: 'retry', reply: `ETHREAD the SMTP thread stopped: ${reason}` });
    for (const resolve of probes.values()) resolve(stopped());
    outcomes.clear();
    probes.clear();
    closed();
  };
  const stopped = (): UnsentOutcome => (closing ? CLOSED : { ...CLOSED, reply: `ETHREAD the SMTP thread stopped: ${failure}` });
  worker.on('error', (error) => fail(error.message));
  worker.on('exit', (code) => fail(`exit code ${code}`));

  return {
    send(message) {
      if (failure) return Promise.resolve(stopped());
      // Asked to close (new settings, or stopping): the thread may be gone before it would
      // answer, and its pool takes nothing new anyway. Never handed over, so never retried.
      if (closing) return Promise.resolve(CLOSED);
      return new Promise((resolve) => {
        const id = nextId++;
        outcomes.set(id, resolve);
        worker.postMessage({ kind: 'send', id, message } satisfies ToSmtpThread);
      });
    },
    probe() {
      if (failure || closing) return Promise.resolve(stopped());
      return new Promise((resolve) => {
        const id = nextId++;
        probes.set(id, resolve);
        worker.postMessage({ kind: 'probe', id } satisfies ToSmtpThread);
      });
    },
    close() {
      closing ??= (async () => {
        if (failure) return;
        // The thread no longer keeps the process alive: a conversation the relay never
        // answers cannot hold up the end of a shutdown (the engine bounds how long it waits).
        worker.unref();
        await new Promise<void>((resolve) => {
          closed = resolve;
          worker.postMessage({ kind: 'close' } satisfies ToSmtpThread);
        });
        await worker.terminate();
      })();
      return closing;
    },
  };
}
