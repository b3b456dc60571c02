import { describe, expect, it } from 'vitest';
import { PassThrough } from 'node:stream';
import { createOutput, formatElapsed, shownPath, statusLine } from './output';

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

describe('statusLine', () => {
  it('is <state padded to 9> <path>[: detail], so paths line up whatever the state', () => {
    const lines = [statusLine('written', 'a/Dockerfile', 'previous kept as a/Dockerfile.bak'), statusLine('unchanged', 'b/x.yml'), statusLine('missing', 'c', '')];
    expect(lines).toEqual(['written   a/Dockerfile: previous kept as a/Dockerfile.bak', 'unchanged b/x.yml', 'missing   c']);
    expect(new Set(lines.map((l) => l.indexOf(' ', 9)))).toEqual(new Set([9]));
  });

  it('Output.status writes it to stderr, stdout stays for data', () => {
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    createOutput({ stdout, stderr, env: {} }).status('changed', 'f.yml', 'numpy 1 → 2');
    expect(stderr.read()?.toString()).toBe('changed   f.yml: numpy 1 → 2\n');
    expect(stdout.read()).toBeNull();
  });
});

describe('shownPath', () => {
  it('is relative to the cwd inside it, else to the checkout, else absolute', () => {
    expect(shownPath('/repo/deployments/d/image/Dockerfile', '/repo', '/repo')).toBe('deployments/d/image/Dockerfile');
    expect(shownPath('/repo/deployments/d/image/Dockerfile', '/repo', '/repo/deployments/d')).toBe('image/Dockerfile');
    expect(shownPath('/repo/deployments/d/image/Dockerfile', '/repo', '/elsewhere')).toBe('deployments/d/image/Dockerfile');
    expect(shownPath('/other/setup-env', '/repo', '/elsewhere')).toBe('/other/setup-env');
    expect(shownPath('/repo-two/x', '/repo', '/repo')).toBe('/repo-two/x');
  });
});
