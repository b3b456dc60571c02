import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ImagewrightError } from '@imagewright/core';
import { thrown } from '@imagewright/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { appendLedger, checkLedger, type LedgerEntry, readLedger } from './ledger';

const entry = (n: number, extra: Partial<LedgerEntry> = {}): LedgerEntry => ({
  time: `2024-0${n}-01T00:00:00.000Z`,
  command: 'patch-os',
  author: `Person ${n} <p${n}@example.org>`,
  description: `patch number ${n}: "quoted" # and a hash`,
  script: { name: 'apt-upgrade', sha256: String(n).repeat(64) },
  source: { image: `app:${n}`, id: `sha256:${String(n).repeat(64)}`, repoDigests: [] },
  result: { tag: `app:${n}`, id: `sha256:${'f'.repeat(63)}${n}`, backup: `app:pre-patch-${n}` },
  ...extra,
});

/** The usage error thrown by FN: exit 2, naming FILE. */
function usageErrorOf(fn: () => unknown, file: string): ImagewrightError {
  const caught: unknown = thrown(fn);
  expect(caught).toBeInstanceOf(ImagewrightError);
  const error = caught as ImagewrightError;
  expect(error.exitCode).toBe(2);
  expect(error.message).toContain(file);
  expect(error.message).not.toContain('\n');
  return error;
}

let dir: string;
let file: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'ledger-test-'));
  file = join(dir, 'patches.yaml');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('ledger', () => {
  it('a missing file: checkLedger passes, readLedger is empty, nothing is created', () => {
    checkLedger(file);
    expect(readLedger(file)).toEqual([]);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('append to a missing file: header comment, then a block list with the entry', () => {
    appendLedger(file, entry(1));
    const text = readFileSync(file, 'utf8');
    expect(text.startsWith('#')).toBe(true);
    expect(text).toMatch(/^patches:\n\s*- /m);
    expect(text).not.toMatch(/^patches: \[\]/m);
    expect(readLedger(file)).toEqual([entry(1)]);
    // Only the ledger: the atomic write left no temp file.
    expect(readdirSync(dir)).toEqual(['patches.yaml']);
  });

  it('append again keeps earlier entries, the header and a user\'s comments; read back in order', () => {
    appendLedger(file, entry(1));
    const withComments = readFileSync(file, 'utf8')
      .replace(/^patches:$/m, '# kept by the user above the list\npatches:')
      .replace(/^(\s*)- time:/m, '$1# about the first patch\n$1- time:');
    expect(withComments).toContain('# about the first patch');
    writeFileSync(file, `${withComments}# a trailing remark\n`);

    appendLedger(file, entry(2, { packages: [{ name: 'openssl', architecture: 'amd64', before: '3.0.11-1', after: '3.0.15-1' }] }));
    appendLedger(file, entry(3));
    const text = readFileSync(file, 'utf8');
    for (const comment of ['# Patches applied', '# kept by the user above the list', '# about the first patch']) expect(text).toContain(comment);
    expect(text.indexOf('# about the first patch')).toBeLessThan(text.indexOf('app:1'));
    expect(readLedger(file)).toEqual([entry(1), entry(2, { packages: [{ name: 'openssl', architecture: 'amd64', before: '3.0.11-1', after: '3.0.15-1' }] }), entry(3)]);
    expect(readdirSync(dir)).toEqual(['patches.yaml']);
  });

  it('a hand-written ledger with other keys and flow-style entries: kept, entry appended', () => {
    writeFileSync(file, '# mine\ndeployment: prod # inline comment\npatches: [{time: "t0", command: manual}]\n');
    appendLedger(file, entry(1));
    const text = readFileSync(file, 'utf8');
    expect(text).toContain('# mine');
    expect(text).toContain('# inline comment');
    expect(text).toMatch(/^deployment: prod/m);
    const ledger = readLedger(file);
    expect(ledger).toHaveLength(2);
    expect(ledger[0]).toEqual({ time: 't0', command: 'manual' });
    expect(ledger[1]).toEqual(entry(1));
  });

  it.each([
    ['empty', 'patches:\n'],
    ['~', 'patches: ~\n'],
    ['null', 'patches: null\n'],
  ])('`patches:` %s (null) reads as no entries and takes an append', (_, content) => {
    writeFileSync(file, `# empty so far\n${content}`);
    checkLedger(file);
    expect(readLedger(file)).toEqual([]);
    appendLedger(file, entry(1));
    expect(readLedger(file)).toEqual([entry(1)]);
    expect(readFileSync(file, 'utf8')).toContain('# empty so far');
  });

  it('`patches: []` and a mapping without `patches` take an append', () => {
    writeFileSync(file, 'patches: []\n');
    appendLedger(file, entry(1));
    expect(readLedger(file)).toEqual([entry(1)]);
    expect(readFileSync(file, 'utf8')).not.toMatch(/^patches: \[\]/m);

    writeFileSync(file, 'deployment: prod\n');
    appendLedger(file, entry(2));
    expect(readLedger(file)).toEqual([entry(2)]);
    expect(readFileSync(file, 'utf8')).toMatch(/^deployment: prod/m);
  });

  it('an empty file or one of comments only takes an append', () => {
    for (const content of ['', '# nothing yet\n']) {
      writeFileSync(file, content);
      checkLedger(file);
      expect(readLedger(file)).toEqual([]);
      appendLedger(file, entry(1));
      expect(readLedger(file)).toEqual([entry(1)]);
      if (content) expect(readFileSync(file, 'utf8')).toContain('# nothing yet');
    }
  });

  const broken: [string, string][] = [
    ['not valid YAML', 'patches:\n  - time: "unterminated\n  - [\n'],
    ['bad indentation', 'patches:\n- a: 1\n  b: 2\n c: 3\n'],
    ['a list at the top', '- time: x\n- time: y\n'],
    ['a scalar at the top', 'just some words\n'],
    ['patches is a mapping', 'patches:\n  time: x\n'],
    ['patches is a scalar', 'patches: none\n'],
  ];

  it.each(broken)('%s: usage error (exit 2) naming the file, from check, read and append; nothing written', (_, content) => {
    writeFileSync(file, content);
    usageErrorOf(() => checkLedger(file), file);
    usageErrorOf(() => readLedger(file), file);
    usageErrorOf(() => appendLedger(file, entry(1)), file);
    expect(readFileSync(file, 'utf8')).toBe(content);
    expect(readdirSync(dir)).toEqual(['patches.yaml']);
  });
});
