import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FIXTURES } from '@imagewright/testing';
import { describe, expect, it } from 'vitest';
import { shamirCombine, shamirSplit } from './shamir';

/** Shares written by sops' own shamir.go (the Go program beside the fixture), with the random bytes its Split read. */
interface Vector {
  secret: string;
  parts: number;
  threshold: number;
  random: string;
  shares: string[];
}
const VECTORS = JSON.parse(readFileSync(join(FIXTURES, 'sops', 'shamir-vectors.json'), 'utf8')) as Vector[];

/** Every k-element subset of `items`, in order. */
function subsets<T>(items: T[], k: number): T[][] {
  if (k === 0) return [[]];
  if (items.length < k) return [];
  const [first, ...rest] = items;
  return [...subsets(rest, k - 1).map((s) => [first!, ...s]), ...subsets(rest, k)];
}

/** A random source that replays `bytes` in order, as Go's crypto/rand gave them. */
function replay(bytes: Buffer): (n: number) => Buffer {
  let offset = 0;
  return (n) => {
    const out = bytes.subarray(offset, offset + n);
    offset += n;
    return Buffer.from(out);
  };
}

describe('Shamir secret sharing (sops/Vault GF(2^8) scheme)', () => {
  it('the fixture holds the vectors sops generated (several shapes, 32-byte keys)', () => {
    expect(VECTORS.length).toBeGreaterThanOrEqual(6);
    expect(VECTORS.some((v) => v.threshold === v.parts)).toBe(true);
    expect(VECTORS.some((v) => v.threshold < v.parts && v.secret.length === 64)).toBe(true);
  });

  it("combines sops' shares: every subset of at least `threshold` shares gives the secret", () => {
    for (const v of VECTORS) {
      const shares = v.shares.map((s) => Buffer.from(s, 'hex'));
      for (let k = v.threshold; k <= v.parts; k++) {
        for (const subset of subsets(shares, k)) expect(shamirCombine(subset).toString('hex')).toBe(v.secret);
        // Order does not matter either: x travels with each share.
        for (const subset of subsets(shares, k)) expect(shamirCombine([...subset].reverse()).toString('hex')).toBe(v.secret);
      }
    }
  });

  it("splits as sops does: fed the random bytes Go's Split read, the same shares byte for byte", () => {
    for (const v of VECTORS) {
      const shares = shamirSplit(Buffer.from(v.secret, 'hex'), v.parts, v.threshold, replay(Buffer.from(v.random, 'hex')));
      expect(shares.map((s) => s.toString('hex'))).toEqual(v.shares);
    }
  });

  it('fewer than `threshold` shares do not give the secret', () => {
    for (const v of VECTORS.filter((x) => x.threshold > 2 && x.secret.length === 64)) {
      const shares = v.shares.map((s) => Buffer.from(s, 'hex'));
      for (const subset of subsets(shares, v.threshold - 1)) expect(shamirCombine(subset).toString('hex')).not.toBe(v.secret);
    }
  });

  it('round trip: for n = 2..6 and every threshold 2..n, any t of the n shares rebuild a random key; t-1 do not', () => {
    for (let n = 2; n <= 6; n++) {
      for (let t = 2; t <= n; t++) {
        const key = randomBytes(32);
        const shares = shamirSplit(key, n, t);
        expect(shares).toHaveLength(n);
        shares.forEach((s, i) => {
          expect(s).toHaveLength(33);
          expect(s[32]).toBe(i + 1); // x = index + 1, the last byte
          expect(s.subarray(0, 32).equals(key)).toBe(false);
        });
        for (const subset of subsets(shares, t)) expect(shamirCombine(subset).equals(key)).toBe(true);
        if (t > 2) for (const subset of subsets(shares, t - 1)) expect(shamirCombine(subset).equals(key)).toBe(false);
        else for (const one of shares) expect(() => shamirCombine([one])).toThrow(/less than two parts/);
      }
    }
  });

  it("refuses what sops' Split and Combine refuse", () => {
    const key = randomBytes(32);
    expect(() => shamirSplit(key, 2, 3)).toThrow(/parts cannot be less than threshold/);
    expect(() => shamirSplit(key, 256, 3)).toThrow(/parts cannot exceed 255/);
    expect(() => shamirSplit(key, 3, 1)).toThrow(/threshold must be at least 2/);
    expect(() => shamirSplit(Buffer.alloc(0), 3, 2)).toThrow(/empty secret/);
    const [a, b] = shamirSplit(key, 3, 2);
    expect(() => shamirCombine([a!, a!])).toThrow(/duplicate part/);
    expect(() => shamirCombine([a!, b!.subarray(1)])).toThrow(/same length/);
    expect(() => shamirCombine([Buffer.from([1]), Buffer.from([2])])).toThrow(/at least two bytes/);
  });
});
