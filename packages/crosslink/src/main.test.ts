import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runBin } from '@imagewright/testing';
import { afterAll, describe, expect, it } from 'vitest';

// The built bin on temporary trees; statSync (inodes) is the oracle for what it linked.
const made: string[] = [];
afterAll(() => made.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

const A = randomBytes(3000);
const C = randomBytes(2500);

/** a1, sub/a2, sub/a3 share content A (a3 mode 0600); c1, c2 share C; b is unique; e1, e2 empty. */
function tree(base = tmpdir()): string {
  const root = mkdtempSync(join(base, 'iw-crosslink-'));
  made.push(root);
  mkdirSync(join(root, 'sub'));
  for (const [path, body] of [['a1', A], ['sub/a2', A], ['sub/a3', A], ['c1', C], ['c2', C], ['b', randomBytes(3000)], ['e1', ''], ['e2', '']] as const) {
    writeFileSync(join(root, path), body);
  }
  chmodSync(join(root, 'sub/a3'), 0o600);
  return root;
}

const ino = (path: string) => statSync(path).ino;
const crosslink = (args: string[]) => runBin('crosslink', args);

describe('crosslink', () => {
  it('surveys as the original printed it: totals before squashing, nothing changed', async () => {
    const root = tree();
    const before = ['a1', 'sub/a2', 'c2'].map((p) => ino(join(root, p)));
    const r = await crosslink([root]);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    // unsquashed 3×3000 + 2×2500 + 3000 = 17000; squashed 3000 + 2500 + 3000 = 8500.
    expect(r.stdout).toBe(
      [
        `Analyzing: ${root}`,
        '-------before squashing-------',
        '-'.repeat(60),
        'Unsquashed total:  17.0 K   Squashed total:   8.5 K',
        '',
      ].join('\n'),
    );
    expect(['a1', 'sub/a2', 'c2'].map((p) => ino(join(root, p)))).toEqual(before);
  });

  it('--json: exact bytes', async () => {
    const root = tree();
    const r = await crosslink(['--json', root]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({
      dirs: [root],
      files: 8,
      inodes: 8,
      unsquashed: 17000,
      squashed: 8500,
      duplicates: { contents: 3, copies: 4, bytes: 8500 },
      otherFilesystems: [],
      unreadable: [],
    });
  });

  it('--link --show-links: copies become hard links to the first path; differing mode is left alone and counted', async () => {
    const root = tree();
    const r = await crosslink(['--link', '--show-links', root]);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    const lines = r.stdout.split('\n');
    expect(lines.slice(4)).toEqual([
      '--------Cross-linking---------',
      // Contents in walk order of their first path (a1 before c1).
      `Re-linking ${root}/sub/a2 --> ${root}/a1`,
      `Re-linking ${root}/c2 --> ${root}/c1`,
      'Bytes saved   5.5 K',
      'linked: 2 files; freed: 2 inodes, 5500 bytes',
      'not linked: metadata differs: 1 files',
      '',
    ]);
    expect(ino(join(root, 'sub/a2'))).toBe(ino(join(root, 'a1')));
    expect(ino(join(root, 'c2'))).toBe(ino(join(root, 'c1')));
    expect(ino(join(root, 'sub/a3'))).not.toBe(ino(join(root, 'a1')));
    expect(ino(join(root, 'e1'))).not.toBe(ino(join(root, 'e2')));
    expect(readFileSync(join(root, 'sub/a2')).equals(A)).toBe(true);
    // A second run finds the links already made.
    const again = await crosslink(['--link', '--json', root]);
    expect(JSON.parse(again.stdout)).toMatchObject({ unsquashed: 17000 - 5500, link: { linked: 0, saved: 0, notLinked: { metadata: [join(root, 'sub/a3')] } } });
  });

  it('--link --json', async () => {
    const root = tree();
    const r = await crosslink(['--link', '--json', '--show-links', root]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).link).toEqual({
      linked: 2,
      inodesFreed: 2,
      saved: 5500,
      notLinked: { metadata: [join(root, 'sub/a3')], otherFilesystem: [], changed: [] },
      failed: [],
      links: [
        { path: join(root, 'sub/a2'), master: join(root, 'a1') },
        { path: join(root, 'c2'), master: join(root, 'c1') },
      ],
    });
  });

  it('a copy on another filesystem is not linked, and said so', async () => {
    const onDisk = tree();
    const inMemory = mkdtempSync('/dev/shm/iw-crosslink-');
    made.push(inMemory);
    expect(statSync(inMemory).dev).not.toBe(statSync(onDisk).dev);
    writeFileSync(join(inMemory, 'c3'), C);
    const r = await crosslink(['--link', '--json', onDisk, inMemory]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).link.notLinked.otherFilesystem).toEqual([join(inMemory, 'c3')]);
    expect(statSync(join(inMemory, 'c3')).nlink).toBe(1);
  });

  it('a link that fails leaves the copy in place, is named on stderr, exit 1', async () => {
    const root = tree();
    // A copy whose directory is so deep that the temporary name beside it is too long for the kernel.
    let dir = join(root, 'deep');
    while (dir.length < 4080) dir = join(dir, 'd'.repeat(Math.min(200, 4084 - dir.length)));
    expect(dir.length).toBe(4085);
    mkdirSync(dir, { recursive: true });
    const copy = join(dir, 'c');
    writeFileSync(copy, C);
    const before = ino(copy);
    const r = await crosslink(['--link', root]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`link failed: ${copy}: ENAMETOOLONG\n`);
    expect(r.stdout).toMatch(/^link failed: 1 files$/m);
    expect(ino(copy)).toBe(before);
    expect(readFileSync(copy).equals(C)).toBe(true);
  });

  it('a missing DIR or a file: one line, exit 2, nothing printed', async () => {
    const root = tree();
    const missing = await crosslink([join(root, 'nope')]);
    expect(missing).toEqual({ code: 2, stdout: '', stderr: `crosslink: DIR ${join(root, 'nope')}: no such directory; allowed: existing directories\n` });
    const file = await crosslink(['--link', join(root, 'b')]);
    expect(file).toMatchObject({ code: 2, stdout: '', stderr: expect.stringMatching(/^crosslink: DIR .*\/b: not a directory; allowed: existing directories\n$/) });
    expect(await crosslink([])).toMatchObject({ code: 2, stderr: expect.stringMatching(/^crosslink: missing argument: usage: crosslink \[OPTIONS\] DIR\.\.\.\n$/) });
    expect(await crosslink(['--show-links', root])).toMatchObject({ code: 2, stderr: 'crosslink: --show-links goes with --link\n' });
  });
});
