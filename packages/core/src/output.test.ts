import { describe, expect, it } from 'vitest';
import { formatElapsed } from './output';

describe('formatElapsed', () => {
  it.each([
    [0.04, '0.0s'],
    [0.44, '0.4s'],
    [12.34, '12.3s'],
    [59.9, '59.9s'],
    [68.4, '1m08s'],
    [3599.4, '59m59s'],
    [3725, '1h02m'],
  ])('%s seconds → %s', (seconds, text) => expect(formatElapsed(seconds)).toBe(text));
});
