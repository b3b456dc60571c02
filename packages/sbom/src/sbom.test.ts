import { memoryImage } from '@imagewright/image';
import { layerTar, type LayerSpec } from '@imagewright/testing';
import { describe, expect, it } from 'vitest';
import { type SbomPackage, sbomOf } from './sbom';

const DEBIAN = 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\n';
const ALPINE = 'NAME="Alpine Linux"\nID=alpine\nVERSION_ID=3.19.1\nPRETTY_NAME="Alpine Linux v3.19"\n';

/** A dpkg status database of installed packages: [name, version, source?]. */
const status = (...pkgs: [string, string, string?][]) =>
  pkgs.map(([name, version, source]) => `Package: ${name}\nStatus: install ok installed\nArchitecture: amd64\n${source ? `Source: ${source}\n` : ''}Version: ${version}\nDescription: test\n`).join('\n');
const file = (path: string, content: string): LayerSpec[number] => ({ path, type: 'file', content });
const metadata = (name: string, version: string) => `Metadata-Version: 2.1\nName: ${name}\nVersion: ${version}\nSummary: test\n\nlong description\n`;
const SITE = 'opt/venv/lib/python3.11/site-packages';

async function image(...layers: LayerSpec[]) {
  const tars = await Promise.all(layers.map(layerTar));
  return { image: memoryImage(tars), diffIds: tars.map((t) => `sha256:${require('node:crypto').createHash('sha256').update(t).digest('hex')}`) };
}

const summary = (packages: SbomPackage[]) => packages.map((p) => `${p.type} ${p.name} ${p.version} @${p.layer.index}${p.ownedBy ? ` owned by ${p.ownedBy}` : ''}`);

describe('sbomOf: layer attribution', () => {
  it('dpkg: a package installed in layer 2, another in layer 3 (status rewritten), an upgrade in layer 3, a reinstall after a removal', async () => {
    const { image: img, diffIds } = await image(
      [file('etc/os-release', DEBIAN), file('var/lib/dpkg/status', status(['base-files', '12.4'], ['libc6', '2.36-9', 'glibc'], ['tzdata', '2024a-0']))],
      [file('etc/motd', 'hello\n')],
      [file('var/lib/dpkg/status', status(['base-files', '12.4'], ['libc6', '2.36-9', 'glibc'], ['curl', '7.88.1-10']))],
      [file('var/lib/dpkg/status', status(['base-files', '12.4'], ['libc6', '2.36-9+deb12u4', 'glibc'], ['curl', '7.88.1-10'], ['jq', '1.6-2.1'], ['tzdata', '2024a-0']))],
    );
    const sbom = await sbomOf(img);
    expect(sbom.distro).toMatchObject({ id: 'debian', versionId: '12' });
    expect(summary(sbom.packages)).toEqual([
      'deb base-files 12.4 @0',
      'deb curl 7.88.1-10 @2',
      'deb jq 1.6-2.1 @3',
      'deb libc6 2.36-9+deb12u4 @3',
      // Present in layer 0, removed by layer 2, back in layer 3: the copy in the image is layer 3's.
      'deb tzdata 2024a-0 @3',
    ]);
    const libc = sbom.packages.find((p) => p.name === 'libc6')!;
    expect(libc).toMatchObject({
      architecture: 'amd64',
      source: 'glibc',
      sourceVersion: '2.36-9+deb12u4',
      path: 'var/lib/dpkg/status',
      purl: 'pkg:deb/debian/libc6@2.36-9+deb12u4?arch=amd64&distro=debian-12',
      layer: { index: 3, diffId: diffIds[3] },
    });
    expect(sbom.image.id).toMatch(/^sha256:[0-9a-f]{64}$/);
  });

  it('Python: the layer of each record file; a whiteout removes a dist-info; an upgrade (old one deleted, new one added) is the upper layer', async () => {
    const { image: img, diffIds } = await image(
      [file(`${SITE}/requests-2.28.0.dist-info/METADATA`, metadata('requests', '2.28.0')), file(`${SITE}/old_thing-1.0.dist-info/METADATA`, metadata('old_thing', '1.0'))],
      [file(`${SITE}/Six-1.16.0.dist-info/METADATA`, metadata('Six', '1.16.0'))],
      [
        { path: `${SITE}/old_thing-1.0.dist-info`, type: 'whiteout' },
        { path: `${SITE}/requests-2.28.0.dist-info`, type: 'whiteout' },
        file(`${SITE}/requests-2.31.0.dist-info/METADATA`, metadata('requests', '2.31.0')),
      ],
    );
    const sbom = await sbomOf(img);
    expect(sbom.distro).toBeUndefined();
    expect(summary(sbom.packages)).toEqual(['pypi requests 2.31.0 @2', 'pypi Six 1.16.0 @1']);
    expect(sbom.packages[1]).toEqual({
      type: 'pypi',
      name: 'Six',
      version: '1.16.0',
      purl: 'pkg:pypi/six@1.16.0',
      path: `${SITE}/Six-1.16.0.dist-info/METADATA`,
      environment: 'opt/venv',
      layer: { index: 1, diffId: diffIds[1] },
    });
  });
});

describe('sbomOf: records', () => {
  const debianWithPython = () =>
    image(
      [
        file('etc/os-release', DEBIAN),
        file('var/lib/dpkg/status', status(['python3-six', '1.16.0-4'], ['python3-yaml', '6.0-3'])),
        file('var/lib/dpkg/info/python3-six.list', '/.\n/usr\n/usr/lib/python3/dist-packages/six-1.16.0.egg-info/PKG-INFO\n/usr/lib/python3/dist-packages/six.py\n'),
        file('var/lib/dpkg/info/python3-yaml:amd64.list', '/usr/lib/python3/dist-packages/PyYAML-6.0.dist-info/METADATA\n'),
        file('usr/lib/python3/dist-packages/six-1.16.0.egg-info/PKG-INFO', metadata('six', '1.16.0')),
        file('usr/lib/python3/dist-packages/PyYAML-6.0.dist-info/METADATA', metadata('PyYAML', '6.0')),
        file('usr/lib/python3/dist-packages/distro_info-1.5.egg-info', metadata('distro-info', '1.5')),
      ],
      [
        file(`${SITE}/six-1.16.0.dist-info/METADATA`, metadata('six', '1.16.0')),
        file(`${SITE}/broken-1.dist-info/METADATA`, 'no headers here\n'),
        { path: `${SITE}/linked-1.dist-info/METADATA`, type: 'symlink', linkname: '../six-1.16.0.dist-info/METADATA' },
        file('opt/conda/envs/x/conda-meta/zlib-1.2.13-h5eee18b_0.json', JSON.stringify({ name: 'zlib', version: '1.2.13', build: 'h5eee18b_0', channel: 'https://repo.anaconda.com/pkgs/main/linux-64', subdir: 'linux-64' })),
        file('opt/conda/envs/x/conda-meta/history', '==> 2023 <==\n'),
      ],
    );

  it('records an OS package owns (dpkg .list) are left out; venv dist-info, an egg-info file and conda-meta are in; unreadable ones skipped', async () => {
    const sbom = await sbomOf((await debianWithPython()).image);
    expect(summary(sbom.packages)).toEqual(['deb python3-six 1.16.0-4 @0', 'deb python3-yaml 6.0-3 @0', 'conda zlib 1.2.13 @1', 'pypi distro-info 1.5 @0', 'pypi six 1.16.0 @1']);
    expect(sbom.packages.find((p) => p.type === 'conda')).toMatchObject({
      build: 'h5eee18b_0',
      channel: 'main',
      purl: 'pkg:conda/zlib@1.2.13?build=h5eee18b_0&channel=main&subdir=linux-64',
      path: 'opt/conda/envs/x/conda-meta/zlib-1.2.13-h5eee18b_0.json',
      environment: 'opt/conda/envs/x',
    });
    expect(sbom.packages.find((p) => p.name === 'distro-info')).toMatchObject({ environment: 'usr', path: 'usr/lib/python3/dist-packages/distro_info-1.5.egg-info' });
  });

  it('--all keeps the owned records, marked with the owning package (an arch-qualified .list too)', async () => {
    const sbom = await sbomOf((await debianWithPython()).image, { all: true });
    expect(summary(sbom.packages).filter((s) => s.startsWith('pypi'))).toEqual([
      'pypi distro-info 1.5 @0',
      'pypi PyYAML 6.0 @0 owned by python3-yaml',
      'pypi six 1.16.0 @1',
      'pypi six 1.16.0 @0 owned by python3-six',
    ]);
  });

  it('Alpine: apk packages with their layer, apk-owned Python records left out, distroless-free defaults', async () => {
    const apk = (pkgs: [string, string, string[]][]) =>
      pkgs.map(([name, version, files]) => `C:Q1abc=\nP:${name}\nV:${version}\nA:x86_64\no:${name}\nL:MIT\n${files.map((f) => `F:${f.slice(0, f.lastIndexOf('/'))}\nR:${f.slice(f.lastIndexOf('/') + 1)}\n`).join('')}`).join('\n');
    const owned = 'usr/lib/python3.11/site-packages/packaging-23.2.dist-info/METADATA';
    const { image: img } = await image(
      [file('etc/os-release', ALPINE), file('lib/apk/db/installed', apk([['musl', '1.2.4-r2', ['lib/ld-musl-x86_64.so.1']]]))],
      [
        file('lib/apk/db/installed', apk([['musl', '1.2.4-r2', ['lib/ld-musl-x86_64.so.1']], ['py3-packaging', '23.2-r0', [owned]]])),
        file(owned, metadata('packaging', '23.2')),
      ],
    );
    const sbom = await sbomOf(img, { name: 'alpine-test' });
    expect(sbom.image.name).toBe('alpine-test');
    expect(summary(sbom.packages)).toEqual(['apk musl 1.2.4-r2 @0', 'apk py3-packaging 23.2-r0 @1']);
    expect(sbom.packages[0]).toMatchObject({ purl: 'pkg:apk/alpine/musl@1.2.4-r2?arch=x86_64&distro=alpine-3.19.1', path: 'lib/apk/db/installed' });
    expect(summary((await sbomOf(img, { all: true })).packages)).toContain('pypi packaging 23.2 @1 owned by py3-packaging');
  });

  it('distroless: each package read from its own status.d file', async () => {
    const { image: img } = await image([file('var/lib/dpkg/status.d/libc6', status(['libc6', '2.36-9']).replace(/^Status: .*\n/m, '')), file('var/lib/dpkg/status.d/tzdata', status(['tzdata', '2024a-0']))]);
    const sbom = await sbomOf(img);
    expect(sbom.packages.map((p) => [p.name, p.path])).toEqual([
      ['libc6', 'var/lib/dpkg/status.d/libc6'],
      ['tzdata', 'var/lib/dpkg/status.d/tzdata'],
    ]);
    expect(sbom.packages[0].purl).toBe('pkg:deb/debian/libc6@2.36-9?arch=amd64');
  });

  it('an empty image: no packages', async () => {
    const sbom = await sbomOf(memoryImage([]));
    expect(sbom.packages).toEqual([]);
  });
});
