import { connect } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { createPooledMessenger } from '../sending/smtp-pool';
import { testStores } from '../test-kit';
import { startSmtpSink } from './smtp-sink';

const storesReady = testStores();
const sinkReady = storesReady.then((stores) => startSmtpSink(stores.mailbox, 0));
afterAll(async () => {
  await (await sinkReady).close();
  await (await storesReady).close();
});

describe('the built-in sink', () => {
  it('outlives a client that resets its connection in the middle of a message, and keeps accepting mail', async () => {
    const sink = await sinkReady;
    const socket = connect(sink.port, '127.0.0.1');
    const reply = () => new Promise((resolve) => socket.once('data', resolve));
    await reply(); // the greeting
    for (const command of ['EHLO crash.example.com', 'MAIL FROM:<news@shop.example.com>', 'RCPT TO:<anna@example.com>', 'DATA']) {
      socket.write(`${command}\r\n`);
      await reply();
    }
    socket.write('Subject: half a message\r\n\r\nHello');
    await new Promise((resolve) => setTimeout(resolve, 20));
    socket.resetAndDestroy(); // as a process killed with SIGKILL leaves it
    await new Promise((resolve) => setTimeout(resolve, 50));
    const messenger = createPooledMessenger({ url: `smtp://127.0.0.1:${sink.port}`, maxConnections: 1, maxMessagesPerConnection: 10 });
    const outcome = await messenger.send({
      from: { name: 'Shop', address: 'news@shop.example.com' },
      to: 'anna@example.com',
      subject: 'Still here',
      html: '<p>Hi</p>',
      text: 'Hi',
      messageId: '<1.test@shop.example.com>',
      headers: {},
    });
    await messenger.close();
    expect(outcome.kind).toBe('sent');
  });
});
