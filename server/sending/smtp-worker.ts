/**
 * The SMTP thread: builds each message's bytes and speaks SMTP over the pool, so that the
 * main thread only renders and keeps the journal. Messages arrive as OutgoingMessage
 * objects and go back as outcomes, matched by id; probes likewise. After `close`, messages
 * waiting for a connection come back `unsent`, those in conversation finish, and `closed`
 * is posted after the last of their outcomes.
 */

import { parentPort, workerData } from 'node:worker_threads';
import type { SmtpOutcome, UnsentOutcome } from './messenger';
import type { OutgoingMessage } from './compose';
import type { RelayOptions } from './messenger';
import { createPooledMessenger } from './smtp-pool';

export type ToSmtpThread = { kind: 'send'; id: number; message: OutgoingMessage } | { kind: 'probe'; id: number } | { kind: 'close' };
export type FromSmtpThread =
  | { kind: 'outcome'; id: number; outcome: SmtpOutcome }
  | { kind: 'probed'; id: number; trouble: UnsentOutcome | null }
  | { kind: 'closed' };

const port = parentPort!;
const messenger = createPooledMessenger(workerData as RelayOptions);
const post = (reply: FromSmtpThread) => port.postMessage(reply);
/** Answers not yet posted. The pool's close() settles as its last call returns, before that call's answer is posted. */
const unanswered = new Set<Promise<void>>();
const answer = (reply: Promise<FromSmtpThread>) => {
  const posted = reply.then(post).finally(() => unanswered.delete(posted));
  unanswered.add(posted);
};

port.on('message', (request: ToSmtpThread) => {
  if (request.kind === 'close') {
    // Once `closed` is read the thread is terminated: every outcome must be posted before it.
    void messenger
      .close()
      .then(() => Promise.all(unanswered))
      .then(() => post({ kind: 'closed' }));
  } else if (request.kind === 'probe') answer(messenger.probe!().then((trouble) => ({ kind: 'probed', id: request.id, trouble })));
  else {
    // The answer keeps the id alone: the request holds the message's parts, which would
    // otherwise live (and be copied by every scavenge) until the relay has answered.
    const { id } = request;
    answer(messenger.send(request.message).then((outcome) => ({ kind: 'outcome', id, outcome })));
  }
});
