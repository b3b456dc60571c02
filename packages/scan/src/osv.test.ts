import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openImage } from '@imagewright/image';
import { sbomOf, toCycloneDx } from '@imagewright/sbom';
import { busyboxEntries, type LayerSpec, type OsvServer, startOsvServer, writeLayeredArchive, writeOsvZip } from '@imagewright/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Finding, ScanResult } from './finding';
import { osvScanImage, osvScanSbom } from './osv';

// The OSV backend end to end on images made here (docker-archive files read through the image
// model): our SBOM of each image matched against advisories written below, served by the OSV API
// stand-in (one id per page), as a directory and as an all.zip. The expected findings are worked
// out by hand from the records, range by range, in the comments next to them.

const file = (path: string, content: string): LayerSpec[number] => ({ path, type: 'file', content });
const status = (...pkgs: [string, string, string?][]) =>
  pkgs.map(([name, version, source]) => `Package: ${name}\nStatus: install ok installed\nArchitecture: amd64\n${source ? `Source: ${source}\n` : ''}Version: ${version}\nDescription: test\n`).join('\n');
const apk = (...pkgs: [string, string, string][]) => pkgs.map(([name, version, origin]) => `C:Q1abc=\nP:${name}\nV:${version}\nA:x86_64\no:${origin}\nL:MIT\n`).join('\n');
const metadata = (name: string, version: string) => `Metadata-Version: 2.1\nName: ${name}\nVersion: ${version}\nSummary: test\n`;
const SITE = 'opt/venv/lib/python3.11/site-packages';

const DEBIAN_LAYERS: LayerSpec[] = [
  [
    ...busyboxEntries(),
    file('etc/os-release', 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\n'),
    file(
      'var/lib/dpkg/status',
      status(
        ['libssl3', '3.0.11-1~deb12u1', 'openssl'],
        ['zlib1g', '1:1.2.13.dfsg-1', 'zlib'],
        // A binNMU: the source's version differs from the binary's.
        ['libfoo1', '1.4-2+b1', 'foo (1.4-2)'],
        ['tzdata', '2024a-0+deb12u1'],
      ),
    ),
  ],
  [file(`${SITE}/PyYAML-5.3.1.dist-info/METADATA`, metadata('PyYAML', '5.3.1')), file(`${SITE}/requests-2.31.0.dist-info/METADATA`, metadata('requests', '2.31.0'))],
];
const ALPINE_LAYERS: LayerSpec[] = [
  [
    ...busyboxEntries(),
    file('etc/os-release', 'NAME="Alpine Linux"\nID=alpine\nVERSION_ID=3.18.4\n'),
    file('lib/apk/db/installed', apk(['busybox', '1.36.1-r5', 'busybox'], ['libcrypto3', '3.1.4-r0', 'openssl'], ['libssl3', '3.1.4-r0', 'openssl'], ['musl', '1.2.4-r2', 'musl'])),
  ],
];

const CVSS_CRITICAL = 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H'; // 9.8
const CVSS_HIGH = 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N'; // 7.5
type Events = Record<string, string>[];
const record = (id: string, ecosystem: string, name: string, events: Events | undefined, extra: Record<string, unknown> = {}, entry: Record<string, unknown> = {}) => ({
  id,
  modified: '2024-06-01T00:00:00Z',
  aliases: [id.replace(/^[A-Z]+-/, '').replace(/^TEST-PY/, 'CVE-2099')],
  summary: `${name} test advisory ${id}`,
  ...extra,
  affected: [{ package: { ecosystem, name }, ...(events ? { ranges: [{ type: 'ECOSYSTEM', events }] } : {}), ...entry }],
});

const RECORDS = [
  // Debian: advisories per source package, dpkg ordering.
  // openssl's source version 3.0.11-1~deb12u1 < 3.0.11-1~deb12u2: affected, urgency high.
  record('DEBIAN-CVE-2099-1001', 'Debian:12', 'openssl', [{ introduced: '0' }, { fixed: '3.0.11-1~deb12u2' }], {}, { ecosystem_specific: { urgency: 'high' } }),
  // Fixed in exactly the installed version: not affected.
  record('DEBIAN-CVE-2099-1002', 'Debian:12', 'openssl', [{ introduced: '0' }, { fixed: '3.0.11-1~deb12u1' }], {}, { ecosystem_specific: { urgency: 'high' } }),
  // ~ sorts before everything: 3.0.11-1~deb12u1 < 3.0.11-1, affected, urgency medium.
  record('DEBIAN-CVE-2099-1003', 'Debian:12', 'openssl', [{ introduced: '0' }, { fixed: '3.0.11-1' }], {}, { ecosystem_specific: { urgency: 'medium' } }),
  // Epoch: 1:1.2.13.dfsg-1 > 1.2.14-1 (epoch 0): not affected.
  record('DEBIAN-CVE-2099-1004', 'Debian:12', 'zlib', [{ introduced: '0' }, { fixed: '1.2.14-1' }], {}, { ecosystem_specific: { urgency: 'high' } }),
  // 1:1.2.13.dfsg-1 < 1:1.2.13.dfsg-1+deb12u1: affected, urgency low.
  record('DEBIAN-CVE-2099-1005', 'Debian:12', 'zlib', [{ introduced: '0' }, { fixed: '1:1.2.13.dfsg-1+deb12u1' }], {}, { ecosystem_specific: { urgency: 'low' } }),
  // foo's source version 1.4-2 < 1.4-2+b1 (the binary's own version would not be): affected, CVSS 9.8.
  record('DEBIAN-CVE-2099-1006', 'Debian:12', 'foo', [{ introduced: '0' }, { fixed: '1.4-2+b1' }], { severity: [{ type: 'CVSS_V3', score: CVSS_CRITICAL }] }),
  // Named by the binary package: Debian's advisories are per source, so nothing.
  record('DEBIAN-CVE-2099-1007', 'Debian:12', 'libfoo1', [{ introduced: '0' }, { fixed: '9' }], {}, { ecosystem_specific: { urgency: 'high' } }),
  // Another release: nothing.
  record('DEBIAN-CVE-2099-1008', 'Debian:11', 'openssl', [{ introduced: '0' }, { fixed: '9.9' }], {}, { ecosystem_specific: { urgency: 'high' } }),
  // tzdata is its own source; last_affected equal to the installed version: affected, no fix, unimportant → LOW.
  record('DEBIAN-CVE-2099-1009', 'Debian:12', 'tzdata', [{ introduced: '0' }, { last_affected: '2024a-0+deb12u1' }], {}, { ecosystem_specific: { urgency: 'unimportant' } }),
  // PyPI, PEP 440 and PEP 503: 5.3.1 < 5.4rc1, affected, GHSA's HIGH; named in another spelling.
  record('TEST-PY-0001', 'PyPI', 'pyyaml', [{ introduced: '0' }, { fixed: '5.4rc1' }], { database_specific: { severity: 'HIGH' } }),
  // A pre-release of the installed version fixed it: 5.3.1 > 5.3.1rc2, not affected.
  record('TEST-PY-0002', 'PyPI', 'PyYAML', [{ introduced: '0' }, { fixed: '5.3.1rc2' }], { database_specific: { severity: 'CRITICAL' } }),
  // A versions list only: 2.31.0 listed, affected, MODERATE → MEDIUM, no fix.
  record('TEST-PY-0003', 'PyPI', 'requests', undefined, { database_specific: { severity: 'MODERATE' } }, { versions: ['2.30.0', '2.31.0'] }),
  // 2.31.0 ≥ 2.30 (numeric, not string, order): not affected.
  record('TEST-PY-0004', 'PyPI', 'requests', [{ introduced: '2.3' }, { fixed: '2.30' }], { database_specific: { severity: 'CRITICAL' } }),
  // Alpine: per origin, apk ordering.
  // openssl 3.1.4-r0 < 3.1.4-r1: both its binaries affected, CVSS 7.5.
  record('ALPINE-CVE-2099-3001', 'Alpine:v3.18', 'openssl', [{ introduced: '0' }, { fixed: '3.1.4-r1' }], { severity: [{ type: 'CVSS_V3', score: CVSS_HIGH }] }),
  // -r5 < -r10 (numbers, not strings): affected, no severity at all → UNKNOWN.
  record('ALPINE-CVE-2099-3002', 'Alpine:v3.18', 'busybox', [{ introduced: '0' }, { fixed: '1.36.1-r10' }]),
  // -r5 > -r4: not affected.
  record('ALPINE-CVE-2099-3003', 'Alpine:v3.18', 'busybox', [{ introduced: '0' }, { fixed: '1.36.1-r4' }], { severity: [{ type: 'CVSS_V3', score: CVSS_CRITICAL }] }),
  // Another release: nothing.
  record('ALPINE-CVE-2099-3004', 'Alpine:v3.17', 'musl', [{ introduced: '0' }, { fixed: '9' }], { severity: [{ type: 'CVSS_V3', score: CVSS_CRITICAL }] }),
];

type Row = [id: string, pkg: string, version: string, fixed: string | undefined, severity: string];
const DEBIAN_EXPECTED: Row[] = [
  ['DEBIAN-CVE-2099-1001', 'libssl3', '3.0.11-1~deb12u1', '3.0.11-1~deb12u2', 'HIGH'],
  ['DEBIAN-CVE-2099-1003', 'libssl3', '3.0.11-1~deb12u1', '3.0.11-1', 'MEDIUM'],
  ['DEBIAN-CVE-2099-1005', 'zlib1g', '1:1.2.13.dfsg-1', '1:1.2.13.dfsg-1+deb12u1', 'LOW'],
  ['DEBIAN-CVE-2099-1006', 'libfoo1', '1.4-2+b1', '1.4-2+b1', 'CRITICAL'],
  ['DEBIAN-CVE-2099-1009', 'tzdata', '2024a-0+deb12u1', undefined, 'LOW'],
  ['TEST-PY-0001', 'PyYAML', '5.3.1', '5.4rc1', 'HIGH'],
  ['TEST-PY-0003', 'requests', '2.31.0', undefined, 'MEDIUM'],
];
const ALPINE_EXPECTED: Row[] = [
  ['ALPINE-CVE-2099-3001', 'libcrypto3', '3.1.4-r0', '3.1.4-r1', 'HIGH'],
  ['ALPINE-CVE-2099-3001', 'libssl3', '3.1.4-r0', '3.1.4-r1', 'HIGH'],
  ['ALPINE-CVE-2099-3002', 'busybox', '1.36.1-r5', '1.36.1-r10', 'UNKNOWN'],
];

const rows = (result: ScanResult): Row[] =>
  result.findings.map((f): Row => [f.id, f.package.name, f.package.version, f.fixedVersion, f.severity]).sort((a, b) => (`${a[0]} ${a[1]}` < `${b[0]} ${b[1]}` ? -1 : 1));
/** Everything but the scan time, for comparing whole results across sources. */
const comparable = (result: ScanResult) => ({ ...result, scannedAt: undefined, findings: [...result.findings].sort((a: Finding, b: Finding) => (`${a.id} ${a.package.name}` < `${b.id} ${b.package.name}` ? -1 : 1)) });

let work: string;
let server: OsvServer;
let sources: Record<'api' | 'dir' | 'zip', string>;
const archives: Record<'debian' | 'alpine', string> = { debian: '', alpine: '' };

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'iw-scan-osv-'));
  archives.debian = join(work, 'debian.tar');
  archives.alpine = join(work, 'alpine.tar');
  await writeLayeredArchive(archives.debian, 'imagewright-test/osv-debian:1', DEBIAN_LAYERS);
  await writeLayeredArchive(archives.alpine, 'imagewright-test/osv-alpine:1', ALPINE_LAYERS);
  const dir = join(work, 'advisories');
  mkdirSync(join(dir, 'nested'), { recursive: true });
  RECORDS.forEach((r, i) => writeFileSync(join(dir, i % 2 ? 'nested' : '', `${r.id}.json`), JSON.stringify(r)));
  writeOsvZip(RECORDS, join(work, 'all.zip'));
  server = await startOsvServer(RECORDS, { pageSize: 1 });
  sources = { api: server.url, dir, zip: join(work, 'all.zip') };
});

afterAll(async () => {
  await server?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('osvScanImage', () => {
  for (const [name, expected, distro] of [
    ['debian', DEBIAN_EXPECTED, 'debian 12'],
    ['alpine', ALPINE_EXPECTED, 'alpine 3.18.4'],
  ] as const) {
    it(`${name}: the OSV API (one id per page), a directory and an all.zip give the same findings, the ones worked out by hand`, async () => {
      const location = `docker-archive:${archives[name]}`;
      const results = {
        api: await osvScanImage(location, sources.api),
        dir: await osvScanImage(location, sources.dir),
        zip: await osvScanImage(location, sources.zip),
      };
      expect(rows(results.api)).toEqual(expected);
      expect(comparable(results.dir)).toEqual(comparable(results.api));
      expect(comparable(results.zip)).toEqual(comparable(results.api));
      expect(results.api).toMatchObject({ image: location, backend: 'osv', distro, digest: expect.stringMatching(/^sha256:[0-9a-f]{64}$/) });
      for (const f of results.api.findings) {
        expect(f.package.class).toBe(f.package.type === 'pypi' ? 'lang' : 'os');
        expect(f.status).toBe(f.fixedVersion ? 'fixed' : 'affected');
        expect(f.uri).toBe(`https://osv.dev/vulnerability/${f.id}`);
        expect(f.title).toBe(RECORDS.find((r) => r.id === f.id)!.summary);
        expect(f.aliases).toEqual(RECORDS.find((r) => r.id === f.id)!.aliases);
      }
    });
  }

  it('each finding names the layer its package came from and its record file', async () => {
    const result = await osvScanImage(`docker-archive:${archives.debian}`, sources.dir);
    const image = await openImage(`docker-archive:${archives.debian}`);
    const diffIds = (await image.config()).rootfs.diff_ids;
    await image.close();
    const byName = (name: string) => result.findings.find((f) => f.package.name === name)!.package;
    expect(byName('libssl3')).toMatchObject({ type: 'deb', layer: diffIds[0], path: 'var/lib/dpkg/status', purl: expect.stringMatching(/^pkg:deb\/debian\/libssl3@/) });
    expect(byName('PyYAML')).toMatchObject({ type: 'pypi', layer: diffIds[1], path: `${SITE}/PyYAML-5.3.1.dist-info/METADATA`, purl: 'pkg:pypi/pyyaml@5.3.1' });
  });

  it('through the API: each distinct (ecosystem, name, version) asked once, every page followed', async () => {
    const before = server.requests.length;
    await osvScanImage(`docker-archive:${archives.alpine}`, sources.api);
    const batches = server.requests.slice(before).filter((r) => r.path === '/v1/querybatch');
    // busybox, openssl (libcrypto3 and libssl3 share their origin and version), musl.
    expect(batches[0].queries).toBe(3);
    // openssl and busybox name 1 and 2 records: with one id per page, busybox needs a second page.
    expect(batches.length).toBeGreaterThanOrEqual(2);
  });
});

describe('osvScanSbom', () => {
  for (const name of ['debian', 'alpine'] as const) {
    it(`${name}: our CycloneDX SBOM of the image, scanned as a file, gives the image's findings`, async () => {
      const location = `docker-archive:${archives[name]}`;
      const image = await openImage(location);
      const doc = toCycloneDx(await sbomOf(image, { name: `osv-${name}` }));
      await image.close();
      const fromSbom = await osvScanSbom(JSON.parse(JSON.stringify(doc)), 'sbom.json', sources.zip);
      const fromImage = await osvScanImage(location, sources.zip);
      expect(rows(fromSbom)).toEqual(name === 'debian' ? DEBIAN_EXPECTED : ALPINE_EXPECTED);
      expect(fromSbom).toMatchObject({ image: `osv-${name}`, backend: 'osv', distro: fromImage.distro });
    });
  }
});
