import { thrown } from '@imagewright/testing';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeploymentTree, ImagewrightError, type Deployment } from '@imagewright/core';
import { afterEach, describe, expect, it } from 'vitest';
import { parseExport, renderExport, type EnvironmentExport } from './conda-yaml';
import { describeChanges, diffExports, planFreeze, writeFreeze, type FreezePlan } from './freeze';

const fixture = (name: string) => readFileSync(join(__dirname, '__fixtures__', name), 'utf8');

const roots: string[] = [];
afterEach(() => roots.splice(0).forEach((r) => rmSync(r, { recursive: true, force: true })));

function deployment(envs: string[], files: Record<string, string> = {}): Deployment {
  const root = mkdtempSync(join(tmpdir(), 'imagewright-environments-'));
  roots.push(root);
  const image = join(root, 'deployments', 'dep', 'image');
  mkdirSync(join(image, 'environments'), { recursive: true });
  for (const env of envs) mkdirSync(join(image, 'environments', env));
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(join(image, path, '..'), { recursive: true });
    writeFileSync(join(image, path), content);
  }
  return new DeploymentTree(root).deployment('dep');
}

const env = (name: string, conda: string[], pip: string[] = [], apt?: string[]): EnvironmentExport => ({
  name,
  channels: ['conda-forge'],
  dependencies: [...conda, ...(pip.length ? [{ pip }] : [])],
  ...(apt ? { apt } : {}),
  prefix: `/opt/conda/envs/${name}`,
});


describe('diffExports', () => {
  it('lists changed, added and removed packages, by section then name', () => {
    const before = env('e', ['python=3.11.2', 'zlib=1.2.13', 'six=1.16.0'], ['Numpy==1.24.2', 'requests==2.31.0'], ['libc6=2.36-9']);
    const after = env('e', ['python=3.11.2', 'zlib=1.3', 'attrs=23.1.0'], ['numpy==1.26.4', 'requests==2.31.0', 'tinypkg==0.1.0'], ['libc6=2.36-9+deb12u4', 'curl=7.88.1-10']);
    expect(diffExports(before, after)).toEqual([
      { section: 'conda', name: 'attrs', to: '23.1.0' },
      { section: 'conda', name: 'six', from: '1.16.0' },
      { section: 'conda', name: 'zlib', from: '1.2.13', to: '1.3' },
      { section: 'pip', name: 'numpy', from: '1.24.2', to: '1.26.4' },
      { section: 'pip', name: 'tinypkg', to: '0.1.0' },
      { section: 'apt', name: 'curl', to: '7.88.1-10' },
      { section: 'apt', name: 'libc6', from: '2.36-9', to: '2.36-9+deb12u4' },
    ]);
  });

  it('with nothing before, everything is added', () => {
    const changes = diffExports(undefined, parseExport(fixture('tess-frozen.yml'), 'f'));
    expect(changes).toHaveLength(305);
    expect(changes.every((c) => c.from === undefined && c.to !== undefined)).toBe(true);
  });
});

describe('planFreeze', () => {
  it('plans added, unchanged and changed files without writing anything', () => {
    const tess = parseExport(fixture('tess-frozen.yml'), 'f');
    const changed = env('exoplanet', ['python=3.11.2'], ['numpy==1.26.4']);
    const d = deployment(['exoplanet', 'roman', 'tess'], {
      'environments/frozen/tess-frozen.yml': fixture('tess-frozen.yml'),
      'environments/frozen/exoplanet-frozen.yml': renderExport(env('exoplanet', ['python=3.11.2'], ['numpy==1.24.2'])),
    });
    const dir = join(d.imageDir, 'environments', 'frozen');
    const before = readdirSync(dir).sort();
    const plans = planFreeze(d, [tess, changed, env('roman', ['python=3.11.2'])]);
    expect(plans.map((p) => [p.environment, p.file, p.status])).toEqual([
      ['tess', join(dir, 'tess-frozen.yml'), 'unchanged'],
      ['exoplanet', join(dir, 'exoplanet-frozen.yml'), 'changed'],
      ['roman', join(dir, 'roman-frozen.yml'), 'added'],
    ]);
    expect(plans[0]!.changes).toEqual([]);
    expect(plans[0]!.text).toBe(fixture('tess-frozen.yml'));
    expect(plans[1]!.changes).toEqual([{ section: 'pip', name: 'numpy', from: '1.24.2', to: '1.26.4' }]);
    expect(plans[2]!.changes).toEqual([{ section: 'conda', name: 'python', to: '3.11.2' }]);
    expect(readdirSync(dir).sort()).toEqual(before);
  });

  it('treats an unreadable frozen file as changed, every package added', () => {
    const d = deployment(['tess'], { 'environments/frozen/tess-frozen.yml': '<<<<<<< HEAD\nname: [\n' });
    const [plan] = planFreeze(d, [env('tess', ['python=3.11.2'], ['numpy==1.26.4'])]);
    expect(plan!.status).toBe('changed');
    expect(plan!.changes).toEqual([
      { section: 'conda', name: 'python', to: '3.11.2' },
      { section: 'pip', name: 'numpy', to: '1.26.4' },
    ]);
  });

  it('uses env-frozen/<env>/requirements.yml in that layout', () => {
    const d = deployment(['tess'], { 'env-frozen/tess/requirements.txt': 'numpy==1.26.4\n' });
    expect(planFreeze(d, [env('tess', [])])[0]!.file).toBe(join(d.imageDir, 'env-frozen/tess/requirements.yml'));
  });

  it('rejects exports of unknown or repeated environments as usage errors', () => {
    const d = deployment(['exoplanet', 'tess']);
    const unknown = thrown(() => planFreeze(d, [env('tess', []), env('base', [])]));
    expect(unknown.exitCode).toBe(2);
    expect(unknown.message).toBe('export "base" is not an environment of deployment dep: allowed exoplanet, tess');
    const twice = thrown(() => planFreeze(d, [env('tess', []), env('tess', [])]));
    expect(twice.exitCode).toBe(2);
    expect(twice.message).toBe('export "tess" given twice: allowed one export per environment');
  });
});

describe('writeFreeze', () => {
  it('writes added plans from scratch, creating the frozen folder, and touches nothing else', () => {
    const d = deployment(['a', 'c'], { README: 'keep\n' });
    const exports = [env('a', ['x=2']), env('c', ['y=1'])];
    const plans = planFreeze(d, exports);
    expect(plans.map((p) => p.status)).toEqual(['added', 'added']);
    writeFreeze(plans);
    const dir = join(d.imageDir, 'environments', 'frozen');
    expect(readdirSync(dir).sort()).toEqual(['a-frozen.yml', 'c-frozen.yml']);
    expect(readFileSync(join(dir, 'a-frozen.yml'), 'utf8')).toBe(plans[0]!.text);
    expect(readFileSync(join(d.imageDir, 'README'), 'utf8')).toBe('keep\n');
    expect(planFreeze(d, exports).map((p) => p.status)).toEqual(['unchanged', 'unchanged']);
  });

  it('leaves unchanged files alone and replaces changed ones', () => {
    const d = deployment(['a', 'b'], {
      'environments/frozen/a-frozen.yml': renderExport(env('a', ['x=1'])),
      'environments/frozen/b-frozen.yml': renderExport(env('b', ['x=1'])),
      'environments/frozen/safety.ignore': 'keep\n',
    });
    const dir = join(d.imageDir, 'environments', 'frozen');
    const mtime = statSync(join(dir, 'a-frozen.yml')).mtimeMs;
    const plans = planFreeze(d, [env('a', ['x=1']), env('b', ['x=2'])]);
    writeFreeze(plans);
    expect(statSync(join(dir, 'a-frozen.yml')).mtimeMs).toBe(mtime);
    expect(readFileSync(join(dir, 'b-frozen.yml'), 'utf8')).toContain('  - x=2\n');
    expect(readdirSync(dir).sort()).toEqual(['a-frozen.yml', 'b-frozen.yml', 'safety.ignore']);
  });

  it('replaces nothing when a temp file cannot be written, and leaves no temp behind', () => {
    const root = mkdtempSync(join(tmpdir(), 'imagewright-environments-'));
    roots.push(root);
    writeFileSync(join(root, 'a.yml'), 'old a\n');
    writeFileSync(join(root, 'blocker'), 'a file where a folder should be\n');
    const plans: FreezePlan[] = [
      { environment: 'a', file: join(root, 'a.yml'), status: 'changed', text: 'new a\n', changes: [] },
      { environment: 'b', file: join(root, 'blocker', 'b.yml'), status: 'added', text: 'new b\n', changes: [] },
    ];
    const error = thrown(() => writeFreeze(plans));
    expect(error.exitCode).toBe(1);
    expect(error.message).toMatch(new RegExp(`^${join(root, 'blocker', 'b.yml')}: could not write the frozen spec \\(.*\\); 0 of 2 frozen files replaced$`));
    expect(readFileSync(join(root, 'a.yml'), 'utf8')).toBe('old a\n');
    expect(readdirSync(root).sort()).toEqual(['a.yml', 'blocker']);
  });

  it('removes the remaining temps when a rename fails', () => {
    const root = mkdtempSync(join(tmpdir(), 'imagewright-environments-'));
    roots.push(root);
    mkdirSync(join(root, 'b.yml')); // a folder in the way of the rename
    const plans: FreezePlan[] = [
      { environment: 'a', file: join(root, 'a.yml'), status: 'added', text: 'new a\n', changes: [] },
      { environment: 'b', file: join(root, 'b.yml'), status: 'added', text: 'new b\n', changes: [] },
    ];
    expect(thrown(() => writeFreeze(plans)).message).toContain('1 of 2 frozen files replaced');
    expect(readdirSync(root).sort()).toEqual(['a.yml', 'b.yml']);
    expect(statSync(join(root, 'b.yml')).isDirectory()).toBe(true);
  });

  it('does nothing when every plan is unchanged', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'imagewright-environments-')), 'missing', 'x.yml');
    roots.push(join(file, '..', '..'));
    writeFreeze([{ environment: 'x', file, status: 'unchanged', text: 'x\n', changes: [] }]);
    expect(existsSync(join(file, '..'))).toBe(false);
  });
});

describe('describeChanges', () => {
  it('summarises changes, additions and removals', () => {
    expect(
      describeChanges([
        { section: 'pip', name: 'numpy', from: '1.24.2', to: '1.26.4' },
        { section: 'pip', name: 'tinypkg', to: '0.1.0' },
        { section: 'conda', name: 'six', from: '1.16.0' },
      ]),
    ).toBe('numpy 1.24.2 → 1.26.4, +tinypkg 0.1.0, -six 1.16.0');
  });

  it('stops after the limit', () => {
    const changes = Array.from({ length: 20 }, (_, i) => ({ section: 'apt' as const, name: `p${i}`, to: '1' }));
    expect(describeChanges(changes)).toBe('+p0 1, +p1 1, +p2 1, +p3 1, +p4 1, +p5 1, +p6 1, +p7 1, … 12 more');
    expect(describeChanges(changes, 2)).toBe('+p0 1, +p1 1, … 18 more');
  });

  it('is empty for no changes and copes with unpinned entries', () => {
    expect(describeChanges([])).toBe('');
    expect(describeChanges([{ section: 'pip', name: '-e git+https://x/y.git#egg=y', to: '' }, { section: 'conda', name: 'a', from: '', to: '1' }])).toBe(
      '+-e git+https://x/y.git#egg=y, a (unpinned) → 1',
    );
  });
});
