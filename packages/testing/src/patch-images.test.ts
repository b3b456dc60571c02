import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { inflateRawSync } from 'node:zlib';
import { imageIdOf, type Engine } from '@imagewright/docker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { busyboxImage, BUSYBOX_IMAGE } from './busybox';
import { ensureEngine } from './engine';
import { builtEnvDeployment, removeChainTags } from './environments';
import { buildWheel, CANARY, HELD_BACK_LABEL, heldBackDebianImage, runInImage } from './patch-images';

const TAG = `imagewright-test/held-back:test-${process.pid}`;
const REPO = `imagewright-test/patch-images-${process.pid}`;
let engine: Engine;

beforeAll(async () => {
  engine = await ensureEngine();
});
afterAll(async () => {
  await engine.getImage(TAG).remove({ noprune: true }).catch(() => {});
  await removeChainTags(engine, REPO);
});

/** Every file of a zip by name, from its central directory (stored or deflated entries). */
function unzip(zip: Buffer): Map<string, Buffer> {
  const eocd = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  expect(eocd).toBeGreaterThanOrEqual(0);
  const count = zip.readUInt16LE(eocd + 10);
  let at = zip.readUInt32LE(eocd + 16);
  const files = new Map<string, Buffer>();
  for (let i = 0; i < count; i++) {
    expect(zip.readUInt32LE(at)).toBe(0x02014b50);
    const method = zip.readUInt16LE(at + 10);
    const compressed = zip.readUInt32LE(at + 20);
    const nameLength = zip.readUInt16LE(at + 28);
    const extra = zip.readUInt16LE(at + 30);
    const comment = zip.readUInt16LE(at + 32);
    const local = zip.readUInt32LE(at + 42);
    const name = zip.subarray(at + 46, at + 46 + nameLength).toString('utf8');
    expect(zip.readUInt32LE(local)).toBe(0x04034b50);
    const start = local + 30 + zip.readUInt16LE(local + 26) + zip.readUInt16LE(local + 28);
    const data = zip.subarray(start, start + compressed);
    expect([0, 8]).toContain(method);
    files.set(name, method === 8 ? inflateRawSync(data) : Buffer.from(data));
    at += 46 + nameLength + extra + comment;
  }
  return files;
}

describe('heldBackDebianImage', () => {
  it('replaces a tag without its label, installs the canary 1.0, reuses itself, and apt upgrades the canary to 2.0', async () => {
    // A tag that names some other image (no label) is not taken for the fixture.
    await busyboxImage(engine);
    await engine.getImage(BUSYBOX_IMAGE).tag({ repo: TAG.split(':')[0], tag: TAG.split(':')[1] });
    const started = Date.now();
    const id = await heldBackDebianImage(engine, TAG);
    console.log(`held-back image ${id.slice(7, 19)} in ${((Date.now() - started) / 1000).toFixed(1)}s`);
    expect(await imageIdOf(engine, TAG)).toBe(id);
    expect((await engine.getImage(TAG).inspect()).Config.Labels).toMatchObject(HELD_BACK_LABEL);
    expect(await heldBackDebianImage(engine, TAG)).toBe(id);

    const installed = await runInImage(engine, TAG, ['sh', '-c', `dpkg-query -W -f='\${Status} \${Version}\\n' ${CANARY.name}; cat /usr/share/${CANARY.name}/version`]);
    expect(installed).toMatchObject({ code: 0, stdout: `install ok installed ${CANARY.installed}\n${CANARY.installed}\n` });

    const upgrade = await runInImage(
      engine,
      TAG,
      ['sh', '-c', `set -e; apt-get update -q >/dev/null; apt-cache policy ${CANARY.name}; echo ---; apt-get dist-upgrade --yes -q; echo ---; cat /usr/share/${CANARY.name}/version`],
      { env: ['DEBIAN_FRONTEND=noninteractive'] },
    );
    expect(upgrade.code, upgrade.stderr).toBe(0);
    const [policy, dist, version] = upgrade.stdout.split('---\n');
    expect(policy).toMatch(new RegExp(`Installed: ${CANARY.installed}\\n\\s*Candidate: ${CANARY.offered}\\n`));
    expect(policy).toContain(`file:${CANARY.repo} ./ Packages`);
    expect(dist).toMatch(new RegExp(`Unpacking ${CANARY.name} \\(${CANARY.offered}\\) over \\(${CANARY.installed}\\)`));
    expect(version).toBe(`${CANARY.offered}\n`);
    expect(upgrade.stderr).not.toMatch(/^(E|W):/m);
  });
});

describe('buildWheel', () => {
  it('builds a wheel with the right METADATA and module, in a container it removes', async () => {
    await builtEnvDeployment(REPO);
    const image = `${REPO}:latest`;
    const containers = async () => (await engine.listContainers({ all: true, filters: { ancestor: [image] } })).length;
    const before = await containers();
    const out = mkdtempSync(join(tmpdir(), 'imagewright-wheels-'));
    try {
      const init = 'VALUE = "patched: \\"yes\\""\n';
      const path = await buildWheel(engine, image, { name: 'canarypkg', version: '1.2.3', init }, out);
      expect(basename(path)).toBe('canarypkg-1.2.3-py3-none-any.whl');
      const files = unzip(readFileSync(path));
      const metadata = files.get('canarypkg-1.2.3.dist-info/METADATA')?.toString('utf8') ?? '';
      expect(metadata).toMatch(/^Name: canarypkg$/m);
      expect(metadata).toMatch(/^Version: 1\.2\.3$/m);
      expect(files.get('canarypkg/__init__.py')?.toString('utf8')).toBe(init);

      await expect(buildWheel(engine, image, { name: 'canarypkg', version: 'not a version', init }, out)).rejects.toThrow(/pip wheel of canarypkg not a version made canarypkg-0\.0\.0-py3-none-any\.whl, not canarypkg-not a version-/);
      await expect(buildWheel(engine, image, { name: 'canarypkg', version: '1"', init }, out)).rejects.toThrow(/pip wheel of canarypkg 1" in .* failed \(exit [1-9]/);
      await expect(buildWheel(engine, image, { name: 'no-module', version: '1', init }, out)).rejects.toThrow(/not a Python module name/);
      expect(await containers()).toBe(before);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});
