import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FIXTURES } from '@imagewright/testing';
import { describe, expect, it } from 'vitest';
import { readSbom } from './read';
import type { Sbom } from './sbom';
import { toCycloneDx, toSpdx } from './write';

const D0 = `sha256:${'a'.repeat(64)}`;
const D1 = `sha256:${'b'.repeat(64)}`;

/** A hand-written SBOM: two OS packages (one with an epoch), the same pip in two environments, a conda package. */
const SBOM: Sbom = {
  image: { name: 'example/app:1', id: `sha256:${'c'.repeat(64)}`, tags: ['example/app:1'], repoDigests: [`example/app@sha256:${'d'.repeat(64)}`] },
  distro: { id: 'debian', idLike: [], versionId: '12' },
  packages: [
    { type: 'deb', name: 'libc6', version: '2.36-9', architecture: 'amd64', source: 'glibc', sourceVersion: '2.36-9', purl: 'pkg:deb/debian/libc6@2.36-9?arch=amd64&distro=debian-12', path: 'var/lib/dpkg/status', layer: { index: 0, diffId: D0 } },
    { type: 'deb', name: 'zlib1g', version: '1:1.2.13.dfsg-1', architecture: 'amd64', source: 'zlib', sourceVersion: '1:1.2.13.dfsg-1', purl: 'pkg:deb/debian/zlib1g@1.2.13.dfsg-1?arch=amd64&distro=debian-12&epoch=1', path: 'var/lib/dpkg/status', layer: { index: 0, diffId: D0 } },
    { type: 'conda', name: 'zlib', version: '1.2.13', build: 'h5eee18b_0', channel: 'main', purl: 'pkg:conda/zlib@1.2.13?build=h5eee18b_0&channel=main', path: 'opt/conda/conda-meta/zlib-1.2.13-h5eee18b_0.json', environment: 'opt/conda', layer: { index: 1, diffId: D1 } },
    { type: 'pypi', name: 'pip', version: '23.0.1', purl: 'pkg:pypi/pip@23.0.1', path: 'opt/envs/a/lib/python3.11/site-packages/pip-23.0.1.dist-info/METADATA', environment: 'opt/envs/a', layer: { index: 1, diffId: D1 } },
    { type: 'pypi', name: 'pip', version: '23.0.1', purl: 'pkg:pypi/pip@23.0.1', path: 'opt/envs/b/lib/python3.11/site-packages/pip-23.0.1.dist-info/METADATA', environment: 'opt/envs/b', ownedBy: 'python3-pip', layer: { index: 1, diffId: D1 } },
  ],
};

type Doc = Record<string, any>;

/** What readSbom should give back for each package of SBOM. */
const readBack = SBOM.packages.map((p) => ({
  type: p.type,
  name: p.name,
  version: p.version,
  purl: p.purl,
  ...(p.architecture ? { architecture: p.architecture } : {}),
  ...(p.source ? { source: p.source, sourceVersion: p.sourceVersion } : {}),
  path: p.path,
  ...(p.environment ? { environment: p.environment } : {}),
  ...(p.ownedBy ? { ownedBy: p.ownedBy } : {}),
  layer: p.layer,
}));

describe('toCycloneDx', () => {
  it('CycloneDX 1.5: the image a container with its ID, the OS, each package a library with a unique bom-ref, purl and layer properties', () => {
    const doc = toCycloneDx(SBOM, { created: new Date('2024-05-06T07:08:09.123Z'), tool: { name: 't', version: '9' } }) as Doc;
    expect(doc).toMatchObject({ bomFormat: 'CycloneDX', specVersion: '1.5', version: 1 });
    expect(doc.serialNumber).toMatch(/^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(doc.metadata.timestamp).toBe('2024-05-06T07:08:09Z');
    expect(doc.metadata.tools).toEqual({ components: [{ type: 'application', name: 't', version: '9' }] });
    expect(doc.metadata.component).toMatchObject({ type: 'container', name: 'example/app:1', version: SBOM.image.id });
    expect(doc.metadata.component.properties).toEqual([
      { name: 'imagewright:image:id', value: SBOM.image.id },
      { name: 'imagewright:image:tag', value: 'example/app:1' },
      { name: 'imagewright:image:repoDigest', value: SBOM.image.repoDigests![0] },
    ]);
    const [os, ...libraries] = doc.components as Doc[];
    expect(os).toEqual({ 'bom-ref': 'os:debian-12', type: 'operating-system', name: 'debian', version: '12' });
    expect(libraries.map((c) => [c.type, c.name, c.version, c.purl])).toEqual(SBOM.packages.map((p) => ['library', p.name, p.version, p.purl]));
    const refs = libraries.map((c) => c['bom-ref']);
    expect(new Set(refs).size).toBe(refs.length);
    expect(libraries[3].properties).toEqual([
      { name: 'imagewright:layer:index', value: '1' },
      { name: 'imagewright:layer:diffId', value: D1 },
      { name: 'imagewright:package:path', value: SBOM.packages[3].path },
      { name: 'imagewright:package:environment', value: 'opt/envs/a' },
    ]);
    expect(doc.dependencies).toEqual([{ ref: doc.metadata.component['bom-ref'], dependsOn: [os['bom-ref'], ...refs] }]);
  });

  it('the same SBOM gives the same document but for the timestamp', () => {
    const a = toCycloneDx(SBOM, { created: new Date(0) }) as Doc;
    const b = toCycloneDx(SBOM, { created: new Date(1e12) }) as Doc;
    expect({ ...a, metadata: { ...a.metadata, timestamp: 'x' } }).toEqual({ ...b, metadata: { ...b.metadata, timestamp: 'x' } });
    expect(toCycloneDx({ ...SBOM, packages: SBOM.packages.slice(1) }, { created: new Date(0) })).not.toMatchObject({ serialNumber: a.serialNumber });
  });
});

describe('toSpdx', () => {
  it('SPDX 2.3: the document DESCRIBES the image, which CONTAINS each package; purl external refs; layer annotations', () => {
    const doc = toSpdx(SBOM, { created: new Date('2024-05-06T07:08:09Z'), tool: { name: 't', version: '9' } }) as Doc;
    expect(doc).toMatchObject({ spdxVersion: 'SPDX-2.3', dataLicense: 'CC0-1.0', SPDXID: 'SPDXRef-DOCUMENT', name: 'example/app:1' });
    expect(doc.creationInfo).toEqual({ created: '2024-05-06T07:08:09Z', creators: ['Tool: t-9'] });
    expect(doc.documentNamespace).toMatch(/^https:\/\/imagewright\.invalid\/spdx\/example-app-1-[0-9a-f]{32}$/);
    const [image, os, ...packages] = doc.packages as Doc[];
    expect(image).toMatchObject({ SPDXID: 'SPDXRef-Image', primaryPackagePurpose: 'CONTAINER', versionInfo: SBOM.image.id });
    expect(os).toMatchObject({ primaryPackagePurpose: 'OPERATING-SYSTEM', name: 'debian', versionInfo: '12' });
    expect(packages.map((p) => p.externalRefs)).toEqual(SBOM.packages.map((p) => [{ referenceCategory: 'PACKAGE-MANAGER', referenceType: 'purl', referenceLocator: p.purl }]));
    const ids = packages.map((p) => p.SPDXID as string);
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of [...ids, image.SPDXID, os.SPDXID]) expect(id).toMatch(/^SPDXRef-[A-Za-z0-9.-]+$/);
    expect(doc.relationships).toEqual([
      { spdxElementId: 'SPDXRef-DOCUMENT', relationshipType: 'DESCRIBES', relatedSpdxElement: 'SPDXRef-Image' },
      ...[os, ...packages].map((p) => ({ spdxElementId: 'SPDXRef-Image', relationshipType: 'CONTAINS', relatedSpdxElement: p.SPDXID })),
    ]);
    expect(packages[0].annotations.map((a: Doc) => a.comment)).toContain(`imagewright:layer:diffId: ${D0}`);
  });

  it('deterministic but for the creation time', () => {
    const strip = (doc: Doc) => JSON.parse(JSON.stringify(doc).replaceAll(doc.creationInfo.created, 'T'));
    expect(strip(toSpdx(SBOM, { created: new Date(0) }) as Doc)).toEqual(strip(toSpdx(SBOM, { created: new Date(1e12) }) as Doc));
  });
});

describe('readSbom', () => {
  it('reads back our CycloneDX and SPDX, as text or parsed', () => {
    for (const write of [toCycloneDx, toSpdx]) {
      const doc = write(SBOM, { tool: { name: 't', version: '9' } });
      const read = readSbom(JSON.stringify(doc));
      expect(read).toEqual(readSbom(doc));
      expect(read).toMatchObject({ format: write === toSpdx ? 'spdx' : 'cyclonedx', tool: write === toSpdx ? 't-9' : 't 9', image: { name: 'example/app:1', id: SBOM.image.id } });
      expect(read.packages).toEqual(readBack);
    }
  });

  it("reads Trivy's CycloneDX (the conda fixture): packages with their record path, the application entries skipped", () => {
    const read = readSbom(readFileSync(join(FIXTURES, 'trivy', 'conda.json'), 'utf8'));
    expect(read).toMatchObject({ format: 'cyclonedx', tool: 'trivy dev', image: { name: 'testdata/fixtures/fs/conda' } });
    expect(read.packages).toEqual([
      { type: 'conda', name: 'openssl', version: '1.1.1q', purl: 'pkg:conda/openssl@1.1.1q', path: 'miniconda3/envs/testenv/conda-meta/openssl-1.1.1q-h7f8727e_0.json' },
      { type: 'conda', name: 'pip', version: '22.2.2', purl: 'pkg:conda/pip@22.2.2', path: 'miniconda3/envs/testenv/conda-meta/pip-22.2.2-py38h06a4308_0.json' },
    ]);
  });

  it("Trivy's deb components: the epoch qualifier back in the version, the source package (epoch, version, release joined) and layer from its properties", () => {
    const trivy = {
      bomFormat: 'CycloneDX',
      specVersion: '1.5',
      metadata: { component: { type: 'container', name: 'x.tar', properties: [{ name: 'aquasecurity:trivy:ImageID', value: SBOM.image.id }] } },
      components: [
        {
          type: 'library',
          name: 'zlib1g',
          version: '1.2.13.dfsg-1',
          purl: 'pkg:deb/debian/zlib1g@1.2.13.dfsg-1?arch=amd64&epoch=1&distro=debian-12.5',
          properties: [
            { name: 'aquasecurity:trivy:LayerDiffID', value: D0 },
            { name: 'aquasecurity:trivy:SrcName', value: 'zlib' },
            { name: 'aquasecurity:trivy:SrcVersion', value: '1.2.13.dfsg' },
            { name: 'aquasecurity:trivy:SrcRelease', value: '1' },
            { name: 'aquasecurity:trivy:SrcEpoch', value: '1' },
          ],
        },
        { type: 'operating-system', name: 'debian', version: '12.5' },
      ],
    };
    expect(readSbom(trivy)).toEqual({
      format: 'cyclonedx',
      image: { name: 'x.tar', id: SBOM.image.id },
      packages: [{ type: 'deb', name: 'zlib1g', version: '1:1.2.13.dfsg-1', purl: trivy.components[0].purl, architecture: 'amd64', source: 'zlib', sourceVersion: '1:1.2.13.dfsg-1', layer: { diffId: D0 } }],
    });
  });

  it('anything else is a usage error naming the input', () => {
    for (const text of ['{', '[]', '{"bomFormat":"other"}']) {
      expect(() => readSbom(text, 'old.json')).toThrow(/^old\.json: .*allowed CycloneDX or SPDX JSON$/);
    }
  });
});
