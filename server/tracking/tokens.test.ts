import { describe, expect, it } from 'vitest';
import { createTokenSigner } from './tokens';

const signer = createTokenSigner('secret-one');

describe('tracking tokens', () => {
  it('verifies what it signed, for its purpose only', () => {
    const token = signer.sign({ purpose: 'c', deliveryId: 'd-1', journalId: 42, linkId: 7 });
    expect(signer.verify(token, 'c')).toEqual({ purpose: 'c', deliveryId: 'd-1', journalId: 42, linkId: 7 });
    expect(signer.verify(token, 'o')).toBeNull();
    expect(signer.verify(token, 'u')).toBeNull();
  });

  it('refuses a token signed with another secret', () => {
    const token = createTokenSigner('secret-two').sign({ purpose: 'o', deliveryId: 'd', journalId: 1 });
    expect(signer.verify(token, 'o')).toBeNull();
  });

  it.each([
    ['a changed journal id', (t: string) => swapPayload(t, (p) => p.replace('.42.', '.43.'))],
    ['a changed link id', (t: string) => swapPayload(t, (p) => p.replace(/\.7$/, '.8'))],
    ['a truncated MAC', (t: string) => t.slice(0, -3)],
    ['no MAC', (t: string) => t.split('.')[0]],
    ['an extra part', (t: string) => `${t}.x`],
    ['garbage', () => '!!!.???'],
  ])('refuses %s', (_, alter) => {
    const token = signer.sign({ purpose: 'c', deliveryId: 'd-1', journalId: 42, linkId: 7 });
    expect(signer.verify(alter(token), 'c')).toBeNull();
  });
});

function swapPayload(token: string, change: (payload: string) => string): string {
  const [payload, mac] = token.split('.');
  return `${Buffer.from(change(Buffer.from(payload, 'base64url').toString())).toString('base64url')}.${mac}`;
}
