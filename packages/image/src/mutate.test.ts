import { describe, expect, it } from 'vitest';
import type { ImageConfig } from './model';
import { appendLayer, sharedLayers, squashConfig } from './mutate';

const d = (n: number) => `sha256:${String(n).repeat(64).slice(0, 64)}`;

const source: ImageConfig = {
  architecture: 'amd64',
  os: 'linux',
  created: '2020-01-01T00:00:00Z',
  container: 'abc',
  container_config: { Cmd: ['x'] },
  config: { Env: ['A=1 2'], Cmd: ['sh'], Labels: { a: 'b' }, Image: 'sha256:parent', StopSignal: 'SIGINT', ExposedPorts: { '80/tcp': {} } },
  rootfs: { type: 'layers', diff_ids: [d(1), d(2), d(3)] },
  history: [
    { created_by: 'ADD a', created: '2020' },
    { created_by: 'ENV A', empty_layer: true },
    { created_by: 'RUN b' },
    { created_by: 'LABEL a', empty_layer: true },
    { created_by: 'RUN c' },
    { created_by: 'CMD sh', empty_layer: true },
  ],
};

describe('squashConfig', () => {
  it('keeps every runtime field and rewrites rootfs and history for a full squash', () => {
    const out = squashConfig(source, { keep: 0, diffId: d(9), created: new Date('2026-01-02T03:04:05.678Z'), comment: 'squashed 3 layers' });
    expect(out.rootfs.diff_ids).toEqual([d(9)]);
    expect(out.history).toEqual([{ created: '2026-01-02T03:04:05Z', created_by: 'imagewright squash', comment: 'squashed 3 layers' }]);
    expect(out.config).toEqual({ ...source.config, Image: '' });
    expect(out).not.toHaveProperty('container');
    expect(out).not.toHaveProperty('container_config');
    expect(out.architecture).toBe('amd64');
  });

  it('keeps the kept layers history, empty entries among them, and one entry per layer', () => {
    const out = squashConfig(source, { keep: 2, diffId: d(9), created: new Date(0), comment: 'c' });
    expect(out.rootfs.diff_ids).toEqual([d(1), d(2), d(9)]);
    expect(out.history?.map((h) => h.created_by)).toEqual(['ADD a', 'ENV A', 'RUN b', 'imagewright squash']);
    const nonEmpty = out.history!.filter((h) => !h.empty_layer).length;
    expect(nonEmpty).toBe(out.rootfs.diff_ids.length);
  });

  it('makes up history for kept layers the source did not record', () => {
    const out = squashConfig({ ...source, history: undefined }, { keep: 2, diffId: d(9), created: new Date(0), comment: 'c' });
    expect(out.history!.filter((h) => !h.empty_layer)).toHaveLength(3);
  });

  it('refuses to keep more layers than there are', () => {
    expect(() => squashConfig(source, { keep: 4, diffId: d(9), created: new Date(0), comment: 'c' })).toThrow(RangeError);
  });
});

describe('sharedLayers', () => {
  it('counts the common prefix', () => {
    expect(sharedLayers([d(1), d(2), d(3)], [d(1), d(2)])).toBe(2);
    expect(sharedLayers([d(1), d(2)], [d(2)])).toBe(0);
    expect(sharedLayers([d(1)], [d(1), d(2)])).toBe(1);
  });
});

describe('appendLayer', () => {
  it('adds one layer and one history entry and keeps every other field', () => {
    const created = new Date('2026-11-23T10:00:00.123Z');
    const out = appendLayer(source, { diffId: d(4), created, createdBy: 'patch-image apt-upgrade', author: 'a@b.c', comment: 'OS "update": now' });
    expect(out.rootfs.diff_ids).toEqual([d(1), d(2), d(3), d(4)]);
    expect(out.history).toEqual([...source.history!, { created: created.toISOString(), created_by: 'patch-image apt-upgrade', author: 'a@b.c', comment: 'OS "update": now' }]);
    expect(out.config).toEqual(source.config);
    expect(out).toMatchObject({ architecture: 'amd64', os: 'linux', created: created.toISOString(), author: 'a@b.c' });
    expect(out).not.toHaveProperty('container');
    expect(out).not.toHaveProperty('container_config');
    // The source is not changed.
    expect(source.rootfs.diff_ids).toHaveLength(3);
  });
});
