/** The little of hoodiecrow-imap (a scriptable IMAP server for tests) that test/support/imap.ts uses. */
declare module 'hoodiecrow-imap' {
  import type { Server } from 'node:net';

  interface Mailbox {
    messages: { uid: number; flags: string[]; raw: string }[];
  }
  interface ImapServer {
    server: Server;
    listen(port: number, host: string, callback: () => void): void;
    close(callback: () => void): void;
    getMailbox(path: string): Mailbox;
    appendMessage(mailbox: Mailbox, flags: string[], internaldate: Date, raw: string): unknown;
  }
  export default function hoodiecrow(options: {
    plugins?: string[];
    users?: Record<string, { password: string }>;
    storage?: Record<string, unknown>;
  }): ImapServer;
}
