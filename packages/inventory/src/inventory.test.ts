import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Engine } from '@imagewright/docker';
import { memoryImage, openImage } from '@imagewright/image';
import { BUSYBOX_IMAGE, busyboxImage, dockerCli, ensureEngine, envFor, runBin, tempDeploymentRoot } from '@imagewright/testing';
import tar from 'tar-stream';
import { beforeAll, describe, expect, it } from 'vitest';
import { diffPackages, INVENTORY_PATHS, inventoryOf, isInventoryPath, osInventory } from './inventory';
import { parseApkInstalled, parseDpkgStatus } from './parsers';

const fixture = (name: string) => readFileSync(join(__dirname, '__fixtures__', name), 'utf8');

/** [name, body] for a regular file; [name, 'symlink', target]. */
type Item = [name: string, body: string, target?: string];

async function layerTar(items: Item[]): Promise<Buffer> {
  const pack = tar.pack();
  for (const [name, body, target] of items) {
    if (target !== undefined) pack.entry({ name, type: 'symlink', linkname: target });
    else pack.entry({ name, mode: 0o644 }, body);
  }
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of pack) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

const image = async (...layers: Item[][]) => memoryImage(await Promise.all(layers.map(layerTar)));

describe('isInventoryPath', () => {
  it('selects the inventory paths and status.d files, nothing near them', () => {
    for (const path of INVENTORY_PATHS) expect(isInventoryPath(path), path).toBe(true);
    expect(isInventoryPath('var/lib/dpkg/status.d/libc6')).toBe(true);
    for (const path of ['var/lib/dpkg/status-old', 'var/lib/dpkg/statusd', 'etc/os-release.d', 'etc', 'var/lib/dpkg', 'lib/apk/db/scripts.tar']) {
      expect(isInventoryPath(path), path).toBe(false);
    }
  });
});

describe('osInventory of in-memory images', () => {
  it('Debian: os-release through its symlink, the topmost dpkg status, packages sorted', async () => {
    const status = fixture('dpkg-status');
    const upgraded = status.replace('Version: 5.2.15-2+b13', 'Version: 5.2.15-2+b14');
    const inventory = await osInventory(
      await image(
        [
          ['usr/lib/os-release', fixture('os-release-debian')],
          ['etc/os-release', 'symlink', '../usr/lib/os-release'],
          ['var/lib/dpkg/status', status],
        ],
        [['var/lib/dpkg/status', upgraded]],
      ),
    );
    expect(inventory.distro).toEqual({ id: 'debian', idLike: [], versionId: '12', versionCodename: 'bookworm', prettyName: 'Debian GNU/Linux 12 (bookworm)' });
    expect(inventory.manager).toBe('apt');
    const expected = parseDpkgStatus(upgraded).sort((a, b) => (a.name < b.name ? -1 : 1));
    expect(inventory.packages).toEqual(expected);
    expect(inventory.packages.find((p) => p.name === 'bash')?.version).toBe('5.2.15-2+b14');
  });

  it('an etc/os-release of its own wins over usr/lib/os-release; ID_LIKE is split', async () => {
    const inventory = await osInventory(
      await image([
        ['usr/lib/os-release', 'ID=debian\n'],
        ['etc/os-release', 'ID=ubuntu\nID_LIKE="debian other"\nVERSION_ID="22.04"\n'],
      ]),
    );
    expect(inventory).toEqual({ distro: { id: 'ubuntu', idLike: ['debian', 'other'], versionId: '22.04' }, packages: [] });
  });

  it('distroless: one status file per package in status.d (md5sums skipped), no main status', async () => {
    const stanzas = fixture('dpkg-status').split('\n\n');
    const pick = (name: string) => stanzas.find((s) => s.startsWith(`Package: ${name}\n`))!.replace(/^Status: .*\n/m, '');
    const inventory = await osInventory(
      await image([
        ['var/lib/dpkg/status.d/libc6', pick('libc6')],
        ['var/lib/dpkg/status.d/libc6.md5sums', 'Package: bogus\nVersion: 9\n'],
        ['var/lib/dpkg/status.d/base-files', pick('base-files')],
        ['var/lib/dpkg/status.d/tzdata', pick('tzdata')],
      ]),
    );
    expect(inventory.distro).toBeUndefined();
    expect(inventory.manager).toBe('apt');
    expect(inventory.packages.map((p) => `${p.name} ${p.version}`)).toEqual(['base-files 12.4+deb12u15', 'libc6 2.36-9+deb12u14', 'tzdata 2026b-0+deb12u1']);
  });

  it('Alpine: the apk database, and a deleted one is gone', async () => {
    const alpine = await osInventory(await image([['etc/os-release', fixture('os-release-alpine')], ['lib/apk/db/installed', fixture('apk-installed')]]));
    expect(alpine.distro).toEqual({ id: 'alpine', idLike: [], versionId: '3.19.1', prettyName: 'Alpine Linux v3.19' });
    expect(alpine.manager).toBe('apk');
    expect(alpine.packages.map((p) => p.name)).toEqual(['alpine-baselayout-data', 'busybox', 'libcrypto3', 'musl', 'ssl_client']);
    expect(alpine.packages).toEqual(expect.arrayContaining(parseApkInstalled(fixture('apk-installed'))));
    const deleted = await osInventory(await image([['lib/apk/db/installed', fixture('apk-installed')]], [['lib/apk/db/.wh.installed', '']]));
    expect(deleted).toEqual({ packages: [] });
  });

  it('nothing to read: no distro, no manager, no packages', async () => {
    expect(await osInventory(await image([['etc/passwd', 'root:x:0:0::/root:/bin/sh\n']]))).toEqual({ packages: [] });
    expect(inventoryOf(new Map())).toEqual({ packages: [] });
  });
});

describe('diffPackages', () => {
  it('changed, added and removed packages by name and architecture, sorted; unchanged ones left out', () => {
    const before = [
      { name: 'zlib1g', version: '1:1.2.13.dfsg-1', architecture: 'amd64' },
      { name: 'bash', version: '5.2.15-2+b13', architecture: 'amd64' },
      { name: 'libc6', version: '2.36-9', architecture: 'amd64' },
      { name: 'libc6', version: '2.36-9', architecture: 'i386' },
      { name: 'old', version: '1' },
      { name: 'same', version: '1', architecture: 'all' },
    ];
    const after = [
      { name: 'same', version: '1', architecture: 'all' },
      { name: 'libc6', version: '2.36-9+deb12u4', architecture: 'i386' },
      { name: 'libc6', version: '2.36-9+deb12u4', architecture: 'amd64' },
      { name: 'bash', version: '5.2.15-2+b13', architecture: 'amd64' },
      { name: 'new', version: '2', architecture: 'amd64' },
      { name: 'zlib1g', version: '1:1.3', architecture: 'amd64' },
    ];
    expect(diffPackages(before, after)).toEqual([
      { name: 'libc6', architecture: 'amd64', before: '2.36-9', after: '2.36-9+deb12u4' },
      { name: 'libc6', architecture: 'i386', before: '2.36-9', after: '2.36-9+deb12u4' },
      { name: 'new', architecture: 'amd64', after: '2' },
      { name: 'old', before: '1' },
      { name: 'zlib1g', architecture: 'amd64', before: '1:1.2.13.dfsg-1', after: '1:1.3' },
    ]);
    expect(diffPackages(after, after)).toEqual([]);
  });
});

describe('osInventory of real Engine images (oracle: dpkg-query and os-release in a container)', () => {
  const DEBIAN = 'imagewright/debian:bookworm-minbase';
  let engine: Engine;
  beforeAll(async () => {
    engine = await ensureEngine();
    const present = await engine
      .getImage(DEBIAN)
      .inspect()
      .then(() => true)
      .catch(() => false);
    if (!present) {
      // Made as image-base makes it (debootstrap from Debian's mirror), under the name the default root has.
      const root = tempDeploymentRoot('base', { 'deployments/base/deployment.yaml': `root:\n  image: ${DEBIAN}\n  debootstrap:\n    suite: bookworm\n    variant: minbase\n` });
      const made = await runBin('image-base', [], { env: envFor(root, 'base', 'unused:latest') });
      if (made.code !== 0) throw new Error(`image-base failed (${made.code}): ${made.stderr}`);
    }
  });

  const inContainer = (image: string, script: string) => execFileSync(dockerCli(), ['run', '--rm', '--network', 'none', '--entrypoint', 'sh', image, '-c', script], { encoding: 'utf8' });

  it('Debian bookworm: every package dpkg-query lists, with version, architecture and source; os-release as the shell reads it', async () => {
    const opened = await openImage(DEBIAN);
    let inventory;
    try {
      inventory = await osInventory(opened);
    } finally {
      await opened.close();
    }
    const oracle = inContainer(DEBIAN, "dpkg-query -W -f '${db:Status-Status} ${Package} ${Version} ${Architecture} ${source:Package} ${source:Version}\\n'")
      .split('\n')
      .filter((line) => line.startsWith('installed '))
      .map((line) => line.slice('installed '.length))
      .sort();
    expect(oracle.length).toBeGreaterThan(50);
    expect(inventory.packages.map((p) => `${p.name} ${p.version} ${p.architecture} ${p.source} ${p.sourceVersion}`).sort()).toEqual(oracle);
    expect(inventory.manager).toBe('apt');
    const [id, versionId, codename, pretty] = inContainer(DEBIAN, '. /etc/os-release && printf "%s\\n" "$ID" "$VERSION_ID" "$VERSION_CODENAME" "$PRETTY_NAME"').split('\n');
    expect(inventory.distro).toEqual({ id, idLike: [], versionId, versionCodename: codename, prettyName: pretty });
  });

  it('the busybox test image: no distro, no manager, no packages', async () => {
    await busyboxImage(engine);
    const opened = await openImage(BUSYBOX_IMAGE);
    try {
      expect(await osInventory(opened)).toEqual({ packages: [] });
    } finally {
      await opened.close();
    }
  });
});
