import { describe, expect, it } from 'vitest';
import { canTransition, isFinal } from './status';
import type { DeliveryStatus } from './types';

describe('status transitions', () => {
  it.each<[DeliveryStatus, DeliveryStatus, boolean]>([
    ['draft', 'preparing', true],
    ['draft', 'sending', false],
    ['preparing', 'prepared', true],
    ['preparing', 'failed', true],
    ['preparing', 'draft', true],
    ['failed', 'sending', false],
    ['prepared', 'sending', true],
    ['prepared', 'scheduled', true],
    ['scheduled', 'sending', true],
    ['scheduled', 'prepared', true],
    ['sending', 'prepared', false],
    ['paused', 'prepared', false],
    ['sending', 'paused', true],
    ['paused', 'sending', true],
    ['sending', 'completed', true],
    ['sending', 'stopped', true],
    ['paused', 'stopped', true],
    ['stopped', 'sending', false],
    ['stopped', 'paused', false],
    ['completed', 'sending', false],
  ])('%s → %s: %s', (from, to, allowed) => {
    expect(canTransition(from, to)).toBe(allowed);
  });

  it('knows which statuses are final', () => {
    expect(isFinal('stopped')).toBe(true);
    expect(isFinal('completed')).toBe(true);
    expect(isFinal('paused')).toBe(false);
  });
});
