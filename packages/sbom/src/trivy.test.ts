import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Engine } from '@imagewright/docker';
import { busyboxEntries, builtEnvDeployment, dockerCli, ensureEngine, type LayerSpec, loadLayeredImage, removeChainTags, runBin, trivyArchiveSbom } from '@imagewright/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pep503Name } from './records';
import { type ReadPackage, readSbom } from './read';

// Trivy (its real binary, offline) is the oracle for the package inventory: the set of
// (purl type, name, version) image-sbom lists must be Trivy's, and where Trivy names a layer
// for a package, its diffId must be ours.

let engine: Engine;
let work: string;

beforeAll(async () => {
  engine = await ensureEngine();
  work = mkdtempSync(join(tmpdir(), 'iw-sbom-trivy-'));
});

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

/** `docker save` of an Engine image into the work folder (Trivy's `--input`). */
function saved(ref: string, name: string): string {
  const archive = join(work, `${name}.tar`);
  const save = spawnSync(dockerCli(), ['save', '-o', archive, ref], { encoding: 'utf8' });
  if (save.status !== 0) throw new Error(`docker save ${ref}: ${save.stderr}`);
  return archive;
}

/** A package's identity across tools: purl type, name (PEP 503 for pypi, as Trivy's purl is only lower-cased), version. */
const identity = (p: ReadPackage) => `${p.type} ${p.type === 'pypi' ? pep503Name(p.name) : p.name} ${p.version}`;
const setOf = (packages: ReadPackage[]) => [...new Set(packages.map(identity))].sort();

/** Ours and Trivy's packages of an Engine image, image-sbom run as users do. */
async function bothOf(ref: string, name: string): Promise<{ ours: ReadPackage[]; trivy: ReadPackage[] }> {
  const run = await runBin('image-sbom', [ref]);
  expect(run.stderr).toBe('');
  expect(run.code).toBe(0);
  const ours = readSbom(run.stdout).packages;
  const trivy = readSbom(await trivyArchiveSbom(saved(ref, name))).packages;
  return { ours, trivy };
}

/** Packages whose layer Trivy names, and ours where it differs (by identity and record path). */
function layerDisagreements(ours: ReadPackage[], trivy: ReadPackage[]): string[] {
  const disagree: string[] = [];
  for (const t of trivy) {
    if (!t.layer?.diffId) continue;
    const mine = ours.filter((o) => identity(o) === identity(t) && (t.path === undefined || o.path === t.path));
    if (!mine.some((o) => o.layer?.diffId === t.layer!.diffId)) disagree.push(`${identity(t)} ${t.path ?? ''}: trivy ${t.layer.diffId}, ours ${mine.map((o) => o.layer?.diffId).join(' ')}`);
  }
  return disagree;
}

const ALPINE_RELEASE = 'NAME="Alpine Linux"\nID=alpine\nVERSION_ID=3.19.1\nPRETTY_NAME="Alpine Linux v3.19"\nHOME_URL="https://alpinelinux.org/"\n';
const file = (path: string, content: string): LayerSpec[number] => ({ path, type: 'file', content });
const conda = (name: string, version: string) =>
  JSON.stringify({ name, version, build: 'h5eee18b_0', build_number: 0, channel: 'https://repo.anaconda.com/pkgs/main/linux-64', subdir: 'linux-64', license: 'MIT', files: [] });
const metadata = (name: string, version: string) => `Metadata-Version: 2.1\nName: ${name}\nVersion: ${version}\nSummary: test\n\nbody\n`;

/** apk's installed database: [name, version, files]. */
const apkDb = (pkgs: [string, string, string[]][]) =>
  pkgs
    .map(
      ([name, version, files]) =>
        `C:Q1${Buffer.from(name).toString('base64')}=\nP:${name}\nV:${version}\nA:x86_64\nS:1000\nI:4000\nT:${name} for tests\nU:https://example.invalid/\nL:MIT\no:${name}\nm:Tests <tests@example.invalid>\nt:1700000000\nc:0123456789abcdef\n` +
        files.map((f) => `F:${f.slice(0, f.lastIndexOf('/'))}\nR:${f.slice(f.lastIndexOf('/') + 1)}\n`).join(''),
    )
    .join('\n');

describe('image-sbom against Trivy', () => {
  it('a small Alpine-style image: apk packages (one upgraded in layer 1), Python records in venvs and system paths (one apk-owned), conda-meta (the base env: beyond Trivy)', async () => {
    const site = 'usr/lib/python3.11/site-packages';
    const venv = 'opt/venv/lib/python3.11/site-packages';
    const base: [string, string, string[]][] = [
      ['musl', '1.2.4-r2', ['lib/ld-musl-x86_64.so.1']],
      ['busybox', '1.36.1-r15', ['bin/busybox']],
      ['alpine-baselayout-data', '3.4.3-r2', ['etc/os-release']],
    ];
    const tag = 'imagewright-test/sbom-alpine:1';
    const image = await loadLayeredImage(engine, tag, [
      [...busyboxEntries(), file('etc/os-release', ALPINE_RELEASE), file('etc/alpine-release', '3.19.1\n'), file('lib/apk/db/installed', apkDb(base))],
      [
        file('lib/apk/db/installed', apkDb([['musl', '1.2.4-r3', ['lib/ld-musl-x86_64.so.1']], ...base.slice(1), ['py3-packaging', '23.2-r0', [`${site}/packaging-23.2.dist-info/METADATA`]]])),
        file('lib/ld-musl-x86_64.so.1', 'musl r3\n'),
        file(`${site}/packaging-23.2.dist-info/METADATA`, metadata('packaging', '23.2')),
      ],
      [
        file(`${venv}/requests-2.31.0.dist-info/METADATA`, metadata('requests', '2.31.0')),
        file(`${venv}/pip-23.0.1.dist-info/METADATA`, metadata('pip', '23.0.1')),
        file(`${venv}/six-1.16.0-py3.11.egg-info/PKG-INFO`, metadata('six', '1.16.0')),
        file('opt/venv2/lib/python3.11/site-packages/pip-23.0.1.dist-info/METADATA', metadata('pip', '23.0.1')),
        file(`${site}/distro_info-1.5.egg-info`, metadata('distro-info', '1.5')),
        file(`${site}/Typing_Extensions-4.8.0.dist-info/METADATA`, metadata('Typing_Extensions', '4.8.0')),
        file('opt/conda/envs/tools/conda-meta/zlib-1.2.13-h5eee18b_0.json', conda('zlib', '1.2.13')),
        // conda's base environment: Trivy reads conda-meta only under envs/<name>/ (it misses this one).
        file('opt/conda/conda-meta/xz-5.4.2-h5eee18b_0.json', conda('xz', '5.4.2')),
      ],
    ]);
    try {
      const { ours, trivy } = await bothOf(tag, 'alpine');
      expect(setOf(ours)).toEqual([...setOf(trivy), 'conda xz 5.4.2'].sort());
      // Not vacuous: every kind made above is there, the apk-owned record is not.
      expect(setOf(ours)).toEqual(
        expect.arrayContaining(['apk musl 1.2.4-r3', 'apk py3-packaging 23.2-r0', 'pypi requests 2.31.0', 'pypi pip 23.0.1', 'pypi six 1.16.0', 'pypi distro-info 1.5', 'pypi typing-extensions 4.8.0', 'conda zlib 1.2.13']),
      );
      expect(setOf(ours)).not.toContain('pypi packaging 23.2');
      expect(layerDisagreements(ours, trivy)).toEqual([]);
      // Our layers on their own: the upgrade is layer 1's, the base packages layer 0's, the venv layer 2's.
      const layer = (name: string) => ours.find((p) => p.name === name)?.layer;
      expect(layer('musl')).toEqual({ index: 1, diffId: image.diffIds[1] });
      expect(layer('busybox')).toEqual({ index: 0, diffId: image.diffIds[0] });
      expect(layer('requests')).toEqual({ index: 2, diffId: image.diffIds[2] });
    } finally {
      await engine.getImage(tag).remove({ force: true }).catch(() => undefined);
    }
  });

  describe('a Debian image with Python environments (the env test deployment: venvs, a Debian python3-six, system Python)', () => {
    const REPO = 'imagewright-test/sbom-envs';
    beforeAll(async () => {
      await builtEnvDeployment(REPO);
    }, 1_800_000);
    afterAll(async () => {
      await removeChainTags(engine, REPO);
    });

    it("the same package set as Trivy's (dpkg-owned Python records left out) and the same layer for every package", async () => {
      const { ours, trivy } = await bothOf(`${REPO}:latest`, 'envs');
      expect(setOf(ours)).toEqual(setOf(trivy));
      const types = new Set(ours.map((p) => p.type));
      expect([...types].sort()).toEqual(['deb', 'pypi']);
      expect(setOf(ours)).toContain('pypi tinypkg 0.1.0');
      expect(ours.filter((p) => p.type === 'deb').length).toBeGreaterThan(50);
      expect(layerDisagreements(ours, trivy)).toEqual([]);
      // Source packages too (Trivy splits epoch, version and release; readSbom joins them).
      const sources = (packages: ReadPackage[]) => packages.filter((p) => p.type === 'deb').map((p) => `${p.name} ${p.source} ${p.sourceVersion}`).sort();
      expect(sources(ours)).toEqual(sources(trivy));
      // --all adds the records dpkg installed (python3-six's), each marked.
      const all = await runBin('image-sbom', ['--all', `${REPO}:latest`]);
      expect(all.code).toBe(0);
      const added = readSbom(all.stdout).packages.filter((p) => p.ownedBy);
      expect(added.map((p) => `${pep503Name(p.name)} ${p.ownedBy}`)).toContain('six python3-six');
      expect(added.every((p) => p.path?.startsWith('usr/lib/python3/dist-packages/'))).toBe(true);
    });
  });
});
