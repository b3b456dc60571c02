import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Engine } from '@imagewright/docker';
import { readSbom } from '@imagewright/sbom';
import { busyboxEntries, ensureEngine, type LayeredImage, type LayerSpec, loadLayeredImage, runBin, skopeo, startRegistryFixture, writeLayeredArchive } from '@imagewright/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// A Debian-style image made here: busybox, os-release and a dpkg status in layer 0, a package
// added in layer 1 (status rewritten), a venv record in layer 2.
const TAG = 'imagewright-test/image-sbom:1';
const status = (...pkgs: [string, string][]) => pkgs.map(([name, version]) => `Package: ${name}\nStatus: install ok installed\nArchitecture: amd64\nVersion: ${version}\n`).join('\n');
const file = (path: string, content: string): LayerSpec[number] => ({ path, type: 'file', content });
const LAYERS: LayerSpec[] = [
  [...busyboxEntries(), file('etc/os-release', 'ID=debian\nVERSION_ID="12"\n'), file('var/lib/dpkg/status', status(['base-files', '12.4'], ['libc6', '2.36-9']))],
  [file('var/lib/dpkg/status', status(['base-files', '12.4'], ['libc6', '2.36-9'], ['curl', '7.88.1-10']))],
  [file('opt/venv/lib/python3.11/site-packages/requests-2.31.0.dist-info/METADATA', 'Metadata-Version: 2.1\nName: requests\nVersion: 2.31.0\n')],
];
const EXPECTED = ['deb base-files 12.4 0', 'deb curl 7.88.1-10 1', 'deb libc6 2.36-9 0', 'pypi requests 2.31.0 2'];

let engine: Engine;
let image: LayeredImage;
let work: string;

beforeAll(async () => {
  engine = await ensureEngine();
  image = await loadLayeredImage(engine, TAG, LAYERS);
  work = mkdtempSync(join(tmpdir(), 'iw-image-sbom-'));
});

afterAll(async () => {
  await engine?.getImage(TAG).remove({ force: true }).catch(() => undefined);
  if (work) rmSync(work, { recursive: true, force: true });
});

const sbom = (args: string[], env?: NodeJS.ProcessEnv) => runBin('image-sbom', args, env ? { env } : {});
const listed = (text: string) => readSbom(text).packages.map((p) => `${p.type} ${p.name} ${p.version} ${p.layer?.index}`);

describe('image-sbom', () => {
  it('--help and --version as every command', async () => {
    const help = await sbom(['--help']);
    expect(help).toMatchObject({ code: 0, stderr: '' });
    expect(help.stdout).toMatch(/^Usage: image-sbom \[OPTIONS\] \[IMAGE\]/);
    for (const option of ['--format FORMAT', '-o, --output FILE', '--all', '--image REF']) expect(help.stdout).toContain(option);
    const version = await sbom(['--version']);
    expect(version).toMatchObject({ code: 0, stderr: '' });
    expect(version.stdout).toMatch(/^image-sbom \(imagewright\) \d+\.\d+\.\d+\n$/);
  });

  it('CycloneDX on stdout by default: the image with its ID and tag, each package with its purl and layer diffId', async () => {
    const r = await sbom([TAG]);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    const doc = JSON.parse(r.stdout);
    expect(doc).toMatchObject({ bomFormat: 'CycloneDX', specVersion: '1.5', metadata: { component: { type: 'container', name: TAG, version: image.id } } });
    expect(listed(r.stdout)).toEqual(EXPECTED);
    const read = readSbom(r.stdout);
    expect(read.image).toEqual({ name: TAG, id: image.id });
    expect(read.packages.map((p) => p.layer?.diffId)).toEqual([0, 1, 0, 2].map((i) => image.diffIds[i]));
    expect(read.packages.find((p) => p.name === 'curl')?.purl).toBe('pkg:deb/debian/curl@7.88.1-10?arch=amd64&distro=debian-12');
  });

  it('--format spdx, and --image; the same packages; two runs differ only in the creation time', async () => {
    const a = await sbom(['--format', 'spdx', '--image', TAG]);
    const b = await sbom(['--format=spdx', TAG]);
    expect(a).toMatchObject({ code: 0, stderr: '' });
    const doc = JSON.parse(a.stdout);
    expect(doc).toMatchObject({ spdxVersion: 'SPDX-2.3', name: TAG });
    expect(listed(a.stdout)).toEqual(EXPECTED);
    const strip = (text: string) => text.replaceAll(JSON.parse(text).creationInfo.created, 'T');
    expect(strip(b.stdout)).toBe(strip(a.stdout));
  });

  it('-o FILE: the SBOM written there (nothing on stdout, a note on stderr); an unwritable path fails with exit 1 and leaves nothing', async () => {
    const out = join(work, 'sbom.json');
    const r = await sbom(['-o', out, '--format', 'cyclonedx', TAG]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain(out);
    expect(listed(readFileSync(out, 'utf8'))).toEqual(EXPECTED);
    const missing = join(work, 'no-such-dir', 'sbom.json');
    const bad = await sbom(['-o', missing, TAG]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^image-sbom: cannot write .*no-such-dir\/sbom\.json: /);
    expect(readdirSync(work)).toEqual(['sbom.json']);
  });

  it('bad input: exit 2 with one line naming it and what is allowed', async () => {
    const format = await sbom(['--format', 'xml', TAG]);
    expect(format).toMatchObject({ code: 2, stdout: '' });
    expect(format.stderr).toBe('image-sbom: --format "xml": allowed cyclonedx or spdx\n');
    const twice = await sbom(['--image', TAG, TAG]);
    expect(twice.code).toBe(2);
    const empty = await sbom(['-o', '', TAG]);
    expect(empty).toMatchObject({ code: 2, stderr: 'image-sbom: -o/--output is empty: allowed a file path\n' });
    const option = await sbom(['--frmat', 'spdx', TAG]);
    expect(option.code).toBe(2);
    expect(option.stderr).toContain('--frmat');
  });

  it('--all on an image without OS-owned records changes nothing; a docker-archive gives the same packages', async () => {
    expect(listed((await sbom(['--all', TAG])).stdout)).toEqual(EXPECTED);
    const archive = join(work, 'image.tar');
    await writeLayeredArchive(archive, TAG, LAYERS);
    const r = await sbom([`docker-archive:${archive}`]);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(listed(r.stdout)).toEqual(EXPECTED);
    rmSync(archive);
  });

  it('a registry image is read from the registry, never pulled; a digest reference is its repo digest', async () => {
    const fixture = await startRegistryFixture();
    try {
      const ref = `${fixture.host}/sbom/app:1`;
      const digest = skopeo.push(fixture.loggedIn, TAG, ref);
      const pinned = `${fixture.host}/sbom/app@${digest}`;
      const r = await sbom([`docker://${ref}`], fixture.env);
      expect(r).toMatchObject({ code: 0, stderr: '' });
      expect(listed(r.stdout)).toEqual(EXPECTED);
      expect(readSbom(r.stdout).image?.id).toBe(image.id);
      const byDigest = await sbom([`docker://${pinned}`], fixture.env);
      expect(byDigest.code).toBe(0);
      expect(JSON.parse(byDigest.stdout).metadata.component.properties).toContainEqual({ name: 'imagewright:image:repoDigest', value: pinned });
      // Nothing was pulled: the Engine knows neither reference.
      for (const name of [ref, pinned]) await expect(engine.getImage(name).inspect()).rejects.toMatchObject({ statusCode: 404 });
    } finally {
      await fixture.stop();
    }
  });

  it('an image that does not exist: exit 2 naming it', async () => {
    const r = await sbom(['imagewright-test/no-such-image:404']);
    expect(r).toMatchObject({ code: 2, stdout: '' });
    expect(r.stderr).toMatch(/^image-sbom: IMAGE "imagewright-test\/no-such-image:404": no such image/);
  });
});
