import { describe, expect, it } from 'vitest';
import { clientKey, createSignInLimits, taskQueue, tooManyAttempts } from './sign-in-limits';

const at = (minutes: number) => new Date(Date.UTC(2026, 10, 28) + minutes * 60_000);
const wrong = async () => false;
const right = async () => true;

describe('sign-in limits', () => {
  it('refuse the attempt past the limit without checking it, and say how long to wait', async () => {
    const limits = createSignInLimits({ perAddress: 3, perAccount: 100, windowMs: 15 * 60_000 });
    for (const minute of [0, 1, 2])
      expect(await limits.attempt('192.0.2.1', 'admin', at(minute), wrong)).toEqual({ kind: 'checked', ok: false });
    let checked = false;
    const refused = await limits.attempt('192.0.2.1', 'admin', at(3), async () => (checked = true));
    expect(refused).toEqual({ kind: 'limited', retryAfterSeconds: 12 * 60 }); // until the first failure is 15 minutes old
    expect(checked).toBe(false);
    // The window slides: once the first failure is out of it, one more attempt is let through.
    expect(await limits.attempt('192.0.2.1', 'admin', at(15), right)).toEqual({ kind: 'checked', ok: true });
    expect(await limits.attempt('192.0.2.1', 'admin', at(15), wrong)).toEqual({ kind: 'checked', ok: false });
    expect(await limits.attempt('192.0.2.1', 'admin', at(15), right)).toMatchObject({ kind: 'limited' });
  });

  it('count an attempt as failed while it is being checked, so a burst cannot outrun the count', async () => {
    const limits = createSignInLimits({ perAddress: 2, perAccount: 100, concurrentChecks: 10 });
    const releases: (() => void)[] = [];
    const slow = () => new Promise<boolean>((resolve) => releases.push(() => resolve(false)));
    const first = limits.attempt('192.0.2.1', 'admin', at(0), slow);
    const second = limits.attempt('192.0.2.1', 'admin', at(0), slow);
    expect(await limits.attempt('192.0.2.1', 'admin', at(0), right)).toMatchObject({ kind: 'limited' });
    releases.forEach((release) => release());
    expect(await Promise.all([first, second])).toEqual([
      { kind: 'checked', ok: false },
      { kind: 'checked', ok: false },
    ]);
  });

  it('stay bounded under a flood of addresses, forgetting the one that failed least recently', async () => {
    const limits = createSignInLimits({ perAddress: 1, perAccount: 1_000_000, maxKeys: 100 });
    await limits.attempt('198.51.100.1', 'admin', at(0), wrong);
    expect(await limits.attempt('198.51.100.1', 'admin', at(0), right)).toMatchObject({ kind: 'limited' });
    for (let i = 0; i < 100; i++) await limits.attempt(`203.0.113.${i}`, `user${i}`, at(1), wrong);
    // The first address was forgotten to make room: at most 100 are kept.
    expect(await limits.attempt('198.51.100.1', 'admin', at(2), right)).toEqual({ kind: 'checked', ok: true });
  });

  it('say the wait in minutes', () => {
    expect([1, 60, 61, 900].map(tooManyAttempts)).toEqual([
      'Too many attempts; try again in 1 minute.',
      'Too many attempts; try again in 1 minute.',
      'Too many attempts; try again in 2 minutes.',
      'Too many attempts; try again in 15 minutes.',
    ]);
  });

  it.each([
    [undefined, 'unknown'],
    ['192.0.2.7', '192.0.2.7'],
    ['::ffff:192.0.2.7', '192.0.2.7'],
    ['2001:db8:1:2::a', '2001:db8:1:2::/64'],
    ['2001:0DB8:0001:0002:ffff:0:0:b', '2001:db8:1:2::/64'],
    ['::1', '0:0:0:0::/64'],
    ['fe80::1%eth0', 'fe80:0:0:0::/64'],
  ])('count %s as %s', (address, key) => {
    expect(clientKey(address)).toBe(key);
  });
});

describe('taskQueue', () => {
  it('runs at most its size at once, the others in arrival order', async () => {
    const run = taskQueue(2);
    let running = 0;
    let most = 0;
    const started: number[] = [];
    const releases: (() => void)[] = [];
    const tasks = Array.from({ length: 6 }, (_, i) =>
      run(async () => {
        started.push(i);
        most = Math.max(most, ++running);
        await new Promise<void>((resolve) => releases.push(resolve));
        running--;
        return i;
      }),
    );
    while (started.length < 6) {
      await new Promise((resolve) => setImmediate(resolve));
      releases.shift()?.();
    }
    releases.forEach((release) => release());
    expect(await Promise.all(tasks)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(started).toEqual([0, 1, 2, 3, 4, 5]);
    expect(most).toBe(2);
  });

  it('gives the place of a task that failed to the next one', async () => {
    const run = taskQueue(1);
    const failing = run(async () => {
      throw new Error('no');
    });
    const next = run(async () => 'ran');
    await expect(failing).rejects.toThrow('no');
    expect(await next).toBe('ran');
  });
});
