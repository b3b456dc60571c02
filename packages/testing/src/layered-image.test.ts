import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import type { Engine } from '@imagewright/docker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureEngine } from './engine';
import { compareConfigs, compareExports, exportEntries, readTarEntries, type ExportEntries } from './export-compare';
import { busyboxEntries, layerTar, loadLayeredImage, type LayerSpec } from './layered-image';

// The squash oracle on its own: images with hand-written layers loaded into the real Engine,
// read back through `docker export`.
const REPO = `imagewright-test/layered-${process.pid}`;
const sha = (s: string | Buffer) => createHash('sha256').update(s).digest('hex');
// security.capability v2: cap_setuid (bit 7: a 0x80 byte, not UTF-8) + cap_net_bind_service, effective.
const CAPABILITY = Buffer.from('0100000280040000000000000000000000000000', 'hex');
const LONG_DIR = `${'d'.repeat(60)}/${'e'.repeat(60)}`;
const LONGER = `${'l'.repeat(120)}/${'m'.repeat(120)}/${'n'.repeat(40)}.txt`;
const UNICODE = 'ünïcødé/日本語 ファイル.txt';

const lower: LayerSpec = [
  ...busyboxEntries(),
  { path: 'keep', type: 'dir' },
  { path: 'keep/a', type: 'file', content: 'a' },
  { path: 'gone', type: 'dir' },
  { path: 'gone/x', type: 'file', content: 'x' },
  { path: 'opq', type: 'dir', mode: 0o750 },
  { path: 'opq/lower', type: 'file', content: 'lower' },
  { path: 'opq/sub', type: 'dir' },
  { path: 'opq/sub/deep', type: 'file', content: 'deep' },
  { path: 'h', type: 'dir' },
  { path: 'h/target', type: 'file', content: 'T', mode: 0o640, uid: 7 },
  { path: 'h/link', type: 'link', linkname: 'h/target' },
  { path: 'ids', type: 'dir' },
  { path: 'ids/big', type: 'file', content: 'big', uid: 3_000_000, gid: 4_000_001 },
  // Above tar-stream's 6-digit clamp (262143) but within ustar's 7 digits.
  { path: 'ids/mid', type: 'file', content: 'mid', uid: 300_000, gid: 262_144 },
  { path: 'modes', type: 'dir' },
  { path: 'modes/suid', type: 'file', content: 's', mode: 0o4755 },
  { path: 'modes/sgid', type: 'file', content: 'g', mode: 0o2711 },
  { path: 'modes/sticky', type: 'dir', mode: 0o1777 },
  { path: 'modes/none', type: 'file', content: 'n', mode: 0 },
  { path: 'modes/cap', type: 'file', content: 'c', mode: 0o755, xattrs: { 'security.capability': CAPABILITY } },
  { path: 'modes/fifo', type: 'fifo', mode: 0o620 },
  { path: LONG_DIR, type: 'dir' },
  { path: `${LONG_DIR}/${'f'.repeat(90)}`, type: 'file', content: 'long' },
  { path: 'l'.repeat(120), type: 'dir' },
  { path: `${'l'.repeat(120)}/${'m'.repeat(120)}`, type: 'dir' },
  { path: LONGER, type: 'file', content: 'longer' },
  { path: 'ünïcødé', type: 'dir' },
  { path: UNICODE, type: 'file', content: 'unicode' },
  { path: 's', type: 'dir' },
  { path: 's/rel', type: 'symlink', linkname: '../keep/a' },
  { path: 's/abs', type: 'symlink', linkname: '/keep/a' },
  { path: 's/dangling', type: 'symlink', linkname: '/nowhere/at/all' },
  { path: 's/long', type: 'symlink', linkname: `/${LONGER}` },
];
const upper: LayerSpec = [
  { path: 'gone/x', type: 'whiteout' },
  { path: 'opq', type: 'opaque' },
  { path: 'opq/upper', type: 'file', content: 'upper' },
  // The target of a lower hard link rewritten above: the link keeps the old content.
  { path: 'h/target', type: 'file', content: 'T2' },
];

let engine: Engine;
let merged: ExportEntries;
const tags: string[] = [];

beforeAll(async () => {
  engine = await ensureEngine();
  tags.push(`${REPO}:two`);
  await loadLayeredImage(engine, `${REPO}:two`, [lower, upper], { Labels: { x: 'y' }, ExposedPorts: { '80/tcp': {} } });
  merged = await exportEntries(engine, `${REPO}:two`);
});

afterAll(async () => {
  for (const tag of tags) await engine?.getImage(tag).remove({ force: true }).catch(() => undefined);
});

describe('layerTar + readTarEntries (no Engine)', () => {
  it('round-trips long and non-ASCII names, big ids, modes, binary xattrs and link targets', async () => {
    const entries = await readTarEntries(Readable.from([await layerTar(lower)]));
    expect(entries.get(LONGER)).toMatchObject({ type: 'file', sha256: sha('longer'), size: 6 });
    expect(entries.get(UNICODE)).toMatchObject({ type: 'file', sha256: sha('unicode') });
    expect(entries.get('ids/big')).toMatchObject({ uid: 3_000_000, gid: 4_000_001 });
    expect(entries.get('ids/mid')).toMatchObject({ uid: 300_000, gid: 262_144 });
    expect(entries.get('modes/none')?.mode).toBe(0);
    expect(entries.get('modes/suid')?.mode).toBe(0o4755);
    expect(entries.get('modes/cap')?.xattrs).toEqual({ 'security.capability': CAPABILITY.toString('hex') });
    expect(entries.get('s/long')).toMatchObject({ type: 'symlink', linkname: `/${LONGER}` });
    expect(entries.get('h/link')).toMatchObject({ type: 'file', sha256: sha('T') });
  });

  it('writes whiteouts and opaque markers under their tar names', async () => {
    const entries = await readTarEntries(Readable.from([await layerTar(upper)]));
    expect([...entries.keys()]).toEqual(['gone/.wh.x', 'opq/.wh..wh..opq', 'opq/upper', 'h/target']);
    expect(entries.get('gone/.wh.x')).toMatchObject({ type: 'file', size: 0 });
  });
});

describe('loadLayeredImage + exportEntries (real Engine)', () => {
  it('loads exactly the layers described', async () => {
    const inspect = await engine.getImage(`${REPO}:two`).inspect();
    expect(inspect.RootFS.Layers).toHaveLength(2);
    expect(inspect.Config.Labels).toEqual({ x: 'y' });
  });

  it('shows the merged view: whiteouts and opaque dirs hide lower entries', () => {
    expect(merged.get('keep/a')).toMatchObject({ type: 'file', sha256: sha('a') });
    expect(merged.has('gone/x')).toBe(false);
    expect(merged.get('gone')?.type).toBe('dir');
    expect(merged.has('opq/lower')).toBe(false);
    expect(merged.has('opq/sub')).toBe(false);
    expect(merged.get('opq/upper')).toMatchObject({ sha256: sha('upper') });
    // The opaque dir itself stays, with the upper layer's attributes (none given: 0755).
    expect(merged.get('opq')).toMatchObject({ type: 'dir' });
    expect([...merged.keys()].some((p) => p.includes('.wh.'))).toBe(false);
  });

  it('reads a hard link as its target content; one rewritten above breaks the pair', () => {
    expect(merged.get('h/target')).toMatchObject({ type: 'file', sha256: sha('T2') });
    expect(merged.get('h/link')).toMatchObject({ type: 'file', sha256: sha('T'), mode: 0o640, uid: 7 });
  });

  it('keeps big ids, special modes, capabilities, fifos, long and non-ASCII names, symlinks', () => {
    expect(merged.get('ids/big')).toMatchObject({ uid: 3_000_000, gid: 4_000_001 });
    expect(merged.get('ids/mid')).toMatchObject({ uid: 300_000, gid: 262_144 });
    expect(merged.get('modes/suid')?.mode).toBe(0o4755);
    expect(merged.get('modes/sgid')?.mode).toBe(0o2711);
    expect(merged.get('modes/sticky')).toMatchObject({ type: 'dir', mode: 0o1777 });
    expect(merged.get('modes/none')?.mode).toBe(0);
    expect(merged.get('modes/cap')?.xattrs).toEqual({ 'security.capability': CAPABILITY.toString('hex') });
    expect(merged.get('modes/fifo')).toMatchObject({ type: 'fifo', mode: 0o620 });
    expect(merged.get(`${LONG_DIR}/${'f'.repeat(90)}`)).toMatchObject({ sha256: sha('long') });
    expect(merged.get(LONGER)).toMatchObject({ sha256: sha('longer') });
    expect(merged.get(UNICODE)).toMatchObject({ sha256: sha('unicode') });
    expect(merged.get('s/rel')).toMatchObject({ type: 'symlink', linkname: '../keep/a' });
    expect(merged.get('s/abs')).toMatchObject({ type: 'symlink', linkname: '/keep/a' });
    expect(merged.get('s/dangling')).toMatchObject({ type: 'symlink', linkname: '/nowhere/at/all' });
    expect(merged.get('s/long')).toMatchObject({ type: 'symlink', linkname: `/${LONGER}` });
    expect(merged.get('bin/sh')).toMatchObject({ type: 'symlink', linkname: 'busybox' });
  });

  it('leaves out the Engine’s own files', () => {
    for (const path of ['.dockerenv', 'etc/hosts', 'etc/hostname', 'etc/resolv.conf']) expect(merged.has(path)).toBe(false);
  });

  it('compareExports is empty for the same image and names each planted difference', async () => {
    expect(compareExports(merged, await exportEntries(engine, `${REPO}:two`))).toEqual([]);
    const planted = new Map(merged);
    planted.set('keep/a', { ...merged.get('keep/a')!, mode: 0o600 });
    planted.delete('ids/big');
    planted.set('extra', { type: 'dir', mode: 0o755, uid: 0, gid: 0, size: 0, xattrs: {} });
    expect(compareExports(merged, planted)).toEqual([
      { path: 'extra', field: 'exists', a: undefined, b: 'dir' },
      { path: 'ids/big', field: 'exists', a: 'file', b: undefined },
      { path: 'keep/a', field: 'mode', a: '0644', b: '0600' },
    ]);
  });

  it('compareExports and compareConfigs tell two real images apart', async () => {
    tags.push(`${REPO}:other`);
    const changed: LayerSpec = [...upper.filter((e) => e.path !== 'opq/upper'), { path: 'opq/upper', type: 'file', content: 'UPPER', uid: 5 }];
    await loadLayeredImage(engine, `${REPO}:other`, [lower, changed], { Labels: { x: 'z' }, ExposedPorts: { '80/tcp': {} }, User: 'nobody' });
    const differences = compareExports(merged, await exportEntries(engine, `${REPO}:other`));
    expect(differences).toEqual([
      { path: 'opq/upper', field: 'uid', a: 0, b: 5 },
      { path: 'opq/upper', field: 'sha256', a: sha('upper'), b: sha('UPPER') },
    ]);
    const [a, b] = await Promise.all([engine.getImage(`${REPO}:two`).inspect(), engine.getImage(`${REPO}:other`).inspect()]);
    expect(compareConfigs(a, a)).toEqual([]);
    expect(compareConfigs(a, b).map((d) => d.path)).toEqual(['Config.User', 'Config.Labels']);
  });
});
