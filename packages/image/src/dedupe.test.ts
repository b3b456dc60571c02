import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, linkSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { crosslink, crosslinkSize, fileDigest, pyCenter, surveyDirs } from './dedupe';

/** A tree: path → content (string) or ['link', target] for a hard link to another path of the tree. */
function tree(files: Record<string, string | ['link', string] | ['symlink', string]>): string {
  const root = mkdtempSync(join(tmpdir(), 'iw-dedupe-'));
  for (const [path, what] of Object.entries(files)) {
    mkdirSync(join(root, path, '..'), { recursive: true });
    if (typeof what === 'string') writeFileSync(join(root, path), what);
    else if (what[0] === 'link') linkSync(join(root, what[1]), join(root, path));
    else symlinkSync(what[1], join(root, path));
  }
  return root;
}

const A = 'a'.repeat(3000);
const B = 'b'.repeat(3000); // same size as A, other content
const C = 'c'.repeat(5000);

describe('surveyDirs', () => {
  it('keys files by content and size, counts inodes once, skips symlinks', async () => {
    const root = tree({
      'x/a1': A,
      'x/a2': A,
      'y/a3': A,
      'y/a3-link': ['link', 'y/a3'],
      'b1': B,
      'c1': C,
      'c2': C,
      'sym': ['symlink', 'c1'],
      'empty1': '',
      'empty2': '',
    });
    const s = await surveyDirs([root]);
    expect(s.files).toBe(9);
    expect(s.inodes).toBe(8);
    // Distinct inodes: a1 a2 a3 b1 c1 c2 + two empties.
    expect(s.unsquashed).toBe(3 * 3000 + 3000 + 2 * 5000);
    expect(s.squashed).toBe(3000 + 3000 + 5000);
    const a = s.groups.find((g) => g.size === 3000)!;
    expect(a.digest).toBe(`sha256:${createHash('sha256').update(A).digest('hex')}`);
    // Walk order is sorted: b1 c1 c2 empty1 empty2 sym x/a1 x/a2 y/a3 y/a3-link.
    expect(a.inodes.map((i) => i.paths.map((p) => p.slice(root.length + 1)))).toEqual([['x/a1'], ['x/a2'], ['y/a3', 'y/a3-link']]);
    expect(s.groups.map((g) => g.size).sort()).toEqual([0, 3000, 5000]);
    expect(s.unreadable).toEqual([]);
  });

  it('a DIR given twice or inside another is walked once', async () => {
    const root = tree({ 'd/a1': A, 'd/a2': A });
    const s = await surveyDirs([root, join(root, 'd'), root]);
    expect(s.files).toBe(2);
    expect(s.unsquashed).toBe(6000);
  });

  it('a mount point inside a DIR is not entered (as root: a tmpfs mounted in the tree)', async () => {
    const root = tree({ 'a1': A, 'mnt/.keep': '' });
    const mounted = spawnSync('mount', ['-t', 'tmpfs', 'none', join(root, 'mnt')], { encoding: 'utf8' });
    expect(mounted.status, `mount: ${mounted.stderr} (this test needs root)`).toBe(0);
    try {
      writeFileSync(join(root, 'mnt', 'a2'), A);
      const s = await surveyDirs([root]);
      expect(s.otherFilesystems).toEqual([join(root, 'mnt')]);
      expect(s.files).toBe(1);
      // Given as a DIR itself, it is walked.
      expect((await surveyDirs([root, join(root, 'mnt')])).groups).toHaveLength(1);
    } finally {
      spawnSync('umount', [join(root, 'mnt')]);
    }
  });

  it('a missing DIR or a file is a usage error naming it', async () => {
    const root = tree({ f: 'x' });
    await expect(surveyDirs([join(root, 'nope')])).rejects.toMatchObject({ exitCode: 2, message: expect.stringMatching(/nope: no such directory/) });
    await expect(surveyDirs([join(root, 'f')])).rejects.toMatchObject({ exitCode: 2, message: expect.stringMatching(/f: not a directory/) });
  });

  it('fileDigest reads more than one block', async () => {
    const root = mkdtempSync(join(tmpdir(), 'iw-dedupe-'));
    const big = Buffer.alloc(3 * (1 << 20) + 17, 7);
    writeFileSync(join(root, 'big'), big);
    expect(await fileDigest(join(root, 'big'))).toBe(createHash('sha256').update(big).digest('hex'));
  });
});

describe('crosslink', () => {
  it('links every copy to the first path, frees their data, keeps contents; metadata that differs is left alone', async () => {
    const root = tree({ 'x/a1': A, 'x/a2': A, 'y/a3': A, 'y/a3-link': ['link', 'y/a3'], 'y/a4': A, b1: B, c1: C, c2: C, e1: '', e2: '' });
    chmodSync(join(root, 'y/a4'), 0o600);
    const before = await surveyDirs([root]);
    const shown: string[] = [];
    const r = await crosslink(before, { onLink: (p, m) => shown.push(`${p.slice(root.length + 1)} --> ${m.slice(root.length + 1)}`) });
    // Groups in walk order (sorted: c1 c2 … x/a1 …).
    expect(shown).toEqual(['c2 --> c1', 'x/a2 --> x/a1', 'y/a3 --> x/a1', 'y/a3-link --> x/a1']);
    expect(r).toMatchObject({ linked: 4, inodesFreed: 3, saved: 3000 + 3000 + 5000, failed: [] });
    expect(r.notLinked.metadata.map((p) => p.slice(root.length + 1))).toEqual(['y/a4']);
    const ino = (p: string) => statSync(join(root, p)).ino;
    expect(new Set(['x/a1', 'x/a2', 'y/a3', 'y/a3-link'].map(ino)).size).toBe(1);
    expect(ino('y/a4')).not.toBe(ino('x/a1'));
    expect(ino('c2')).toBe(ino('c1'));
    // Empty files are not linked.
    expect(ino('e1')).not.toBe(ino('e2'));
    expect(readFileSync(join(root, 'y/a3-link'), 'utf8')).toBe(A);
    expect(readFileSync(join(root, 'b1'), 'utf8')).toBe(B);
    // No temporary names left behind.
    expect([...readdirSync(root, { recursive: true })].filter((n) => String(n).includes('.crosslink-'))).toEqual([]);
    const after = await surveyDirs([root]);
    expect(after.unsquashed).toBe(before.unsquashed - r.saved);
    expect(after.squashed).toBe(before.squashed);
    expect(after.files).toBe(before.files);
  });

  it('a copy with links outside the walked directory is linked but saves nothing', async () => {
    const root = tree({ 'in/a1': A, 'in/a2': A, 'out/a2-elsewhere': ['link', 'in/a2'] });
    const r = await crosslink(await surveyDirs([join(root, 'in')]));
    expect(r).toMatchObject({ linked: 1, inodesFreed: 0, saved: 0 });
  });

  it('a file changed since the survey is left alone', async () => {
    const root = tree({ a1: A, a2: A });
    const s = await surveyDirs([root]);
    writeFileSync(join(root, 'a2.new'), A + 'x');
    renameSync(join(root, 'a2.new'), join(root, 'a2'));
    const r = await crosslink(s);
    expect(r.linked).toBe(0);
    expect(r.notLinked.changed).toEqual([join(root, 'a2')]);
    expect(readFileSync(join(root, 'a2'), 'utf8')).toBe(A + 'x');
  });
});

describe('the original formats', () => {
  it('crosslinkSize: one decimal over 1e3/1e6/1e9/1e12, right-aligned to 7', () => {
    expect(crosslinkSize(999)).toBe('    999');
    expect(crosslinkSize(1000)).toBe('   1000');
    expect(crosslinkSize(1500)).toBe('  1.5 K');
    expect(crosslinkSize(21.1e9)).toBe(' 21.1 G');
    expect(crosslinkSize(2e12 + 1)).toBe('  2.0 T');
  });

  it("pyCenter is Python's str.center", () => {
    expect(pyCenter('before squashing', 30, '-')).toBe('-------before squashing-------');
    expect(pyCenter('Cross-linking', 30, '-')).toBe('--------Cross-linking---------');
    expect(pyCenter('ab', 7, '*')).toBe('***ab**');
  });
});
