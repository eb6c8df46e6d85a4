/**
 * The bounce mailbox: a third way in for bounces and complaints, for those who already
 * have a mailbox that receives them (the return path's, a feedback loop's). Every so often
 * it is read over IMAP (imapflow): each unread message is handed to the same handling as the
 * bounce port's (application/late-outcomes.ts) and marked read once that is done. A message
 * that could not be kept stays unread and is read again next time: nothing is lost. A
 * message that is no report is marked read too (it is answered, not kept).
 *
 * A report's recipients are read from its headers (Delivered-To, X-Original-To, Envelope-To,
 * To): the signed return path a DSN is sent to names its journal row there, and its
 * signature is checked as at the bounce port, so a header cannot point at another row.
 */

import { ImapFlow } from 'imapflow';
import { deliveredTo } from './reports';

export interface BounceMailbox {
  /** Reads the unread messages now (once at a time); resolves what it did. */
  check(): Promise<MailboxCheck>;
  stop(): Promise<void>;
}

export interface MailboxCheck {
  /** Unread messages read. */
  read: number;
  /** Of those, handled and marked read. */
  handled: number;
  /** Left unread, to be read again: their handling failed. */
  failed: number;
}

export interface BounceMailboxOptions {
  /** imaps://user:password@host:993/INBOX, or imap://… (STARTTLS when offered); the path is the folder, INBOX when none. */
  url: string;
  everyMs: number;
  handle: (raw: Buffer, recipients: string[]) => Promise<unknown>;
  /** Hears what a person should know: the mailbox cannot be reached, or can again. */
  log: (line: string, error?: Error) => void;
}

/** The largest message read: a DSN carries the original message at most. */
const MAX_BYTES = 10 * 1024 * 1024;

/** Returns where the mailbox is, for people: host, port and folder, never the user or password. */
export function mailboxName(url: string): string {
  const parsed = new URL(url);
  return `${parsed.host}/${folderOf(parsed)}`;
}

const folderOf = (url: URL) => decodeURIComponent(url.pathname.replace(/^\//, '')) || 'INBOX';

/** Throws when a part of the URL is not valid percent-encoding (a bare % in a password). */
const decodedParts = (url: URL) => [url.username, url.password, url.pathname].map((part) => decodeURIComponent(part));

/** Checks the URL at the start, so that a wrong value stops Mailroom with a sentence; returns the reason, or null. */
export function mailboxUrlProblem(url: string): string | null {
  try {
    const parsed = new URL(url);
    if (parsed.protocol !== 'imap:' && parsed.protocol !== 'imaps:') return 'it must start with imap:// or imaps://';
    if (!parsed.hostname) return 'it names no host';
    if (!parsed.username) return 'it names no user (imaps://user:password@host:993/INBOX)';
    try {
      decodedParts(parsed);
    } catch {
      return 'its user, password or folder has a % that is not followed by two hex digits (write % as %25)';
    }
    return null;
  } catch {
    return 'it must look like imaps://user:password@host:993/INBOX';
  }
}

export function startBounceMailbox(options: BounceMailboxOptions): BounceMailbox {
  const url = new URL(options.url);
  const name = mailboxName(options.url);
  const loopback = ['127.0.0.1', 'localhost', '::1', '[::1]'].includes(url.hostname);
  let running: Promise<MailboxCheck> | null = null;
  let stopped = false;
  /** The connection of the reading under way: a stop closes it, which ends the reading at once. */
  let connection: ImapFlow | null = null;
  /** The last trouble told, so that a mailbox down for an hour is said once, and its return once. */
  let trouble: string | null = null;

  const read = async (): Promise<MailboxCheck> => {
    const done: MailboxCheck = { read: 0, handled: 0, failed: 0 };
    if (stopped) return done;
    const client = (connection = new ImapFlow({
      host: url.hostname,
      port: Number(url.port) || (url.protocol === 'imaps:' ? 993 : 143),
      secure: url.protocol === 'imaps:',
      auth: { user: decodeURIComponent(url.username), pass: decodeURIComponent(url.password) },
      logger: false,
      // A loopback server (a local Dovecot, a test's) presents no certificate worth checking.
      tls: { rejectUnauthorized: !loopback },
      // No password in clear over the network: imap:// must upgrade with STARTTLS (a loopback server need not).
      doSTARTTLS: url.protocol === 'imap:' && !loopback ? true : undefined,
      connectionTimeout: 10_000,
      greetingTimeout: 10_000,
      socketTimeout: 60_000,
    }));
    client.on('error', () => {}); // a dropped connection rejects the command under way, which is what is handled
    try {
      await client.connect();
      const lock = await client.getMailboxLock(folderOf(url));
      try {
        // The unread messages' sizes first, then each one's source and its handling: a fetch holds the connection until it ends.
        const unread: { uid: number; size: number }[] = [];
        for await (const message of client.fetch({ seen: false }, { uid: true, size: true }, { uid: true })) {
          unread.push({ uid: message.uid, size: message.size ?? 0 });
        }
        for (const message of unread) {
          if (stopped) break;
          done.read++;
          const fetched = message.size <= MAX_BYTES ? await client.fetchOne(String(message.uid), { source: true }, { uid: true }) : null;
          const source = fetched ? fetched.source : undefined;
          try {
            // Larger than any report (a DSN carries the original at most): read, and not kept.
            if (source) await options.handle(source, deliveredTo(source));
          } catch (error) {
            done.failed++;
            options.log(
              `A report in the bounce mailbox ${name} could not be kept; it stays unread and is read again: ${(error as Error).message}`,
              error as Error,
            );
            continue;
          }
          await client.messageFlagsAdd(String(message.uid), ['\\Seen'], { uid: true });
          done.handled++;
        }
      } finally {
        lock.release();
      }
      await client.logout();
      if (trouble) options.log(`The bounce mailbox ${name} can be read again.`);
      trouble = null;
    } catch (error) {
      if (stopped) return done;
      const e = error as Error & { responseText?: string; code?: string };
      const said = e.responseText ?? e.code ?? e.message;
      if (trouble !== said)
        options.log(`The bounce mailbox ${name} cannot be read (${said}); it is tried again in ${options.everyMs / 1000} s.`, e);
      trouble = said;
      client.close();
    } finally {
      connection = null;
    }
    return done;
  };

  const check = (): Promise<MailboxCheck> => {
    running ??= read().finally(() => (running = null));
    return running;
  };
  const timer = setInterval(() => {
    if (!stopped) void check();
  }, options.everyMs);
  timer.unref();
  void check();
  return {
    check,
    async stop() {
      stopped = true;
      clearInterval(timer);
      connection?.close();
      await running;
    },
  };
}
