/**
 * A real IMAP server over TCP for tests (hoodiecrow-imap): one user, an INBOX messages are
 * delivered to, and their flags read back.
 */

import hoodiecrow from 'hoodiecrow-imap';

export interface ImapServer {
  port: number;
  /** Puts a message in the INBOX, unread unless told. */
  deliver(raw: Buffer, seen?: boolean): void;
  /** The INBOX as the server holds it. */
  messages(): { uid: number; seen: boolean; raw: string }[];
  stop(): Promise<void>;
}

export async function startImapServer(user: string, password: string): Promise<ImapServer> {
  const server = hoodiecrow({
    plugins: ['ID', 'SASL-IR', 'AUTH-PLAIN', 'NAMESPACE', 'IDLE', 'ENABLE', 'UNSELECT', 'UIDPLUS', 'LITERALPLUS'],
    users: { [user]: { password } },
    storage: { INBOX: { messages: [] } },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.server.address();
  const inbox = () => server.getMailbox('INBOX');
  return {
    port: typeof address === 'object' && address ? address.port : 0,
    deliver: (raw, seen = false) => void server.appendMessage(inbox(), seen ? ['\\Seen'] : [], new Date(), raw.toString('binary')),
    messages: () => inbox().messages.map((m) => ({ uid: m.uid, seen: m.flags.includes('\\Seen'), raw: m.raw })),
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
