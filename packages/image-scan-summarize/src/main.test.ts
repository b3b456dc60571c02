import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FIXTURES, busyboxEntries, type LayerSpec, REPO_ROOT, runBin, writeLayeredArchive } from '@imagewright/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// image-scan-summarize's built bin on the real reports (Trivy's, the STScI ecr-scan-report.yaml)
// and on image-scan --json of an image made here, whose findings are worked out from the records.

const BUSTER = join(FIXTURES, 'trivy', 'debian-buster.json');
const ALPINE39 = join(FIXTURES, 'trivy', 'alpine-39.json');
const STRETCH = join(FIXTURES, 'trivy', 'debian-stretch.json');
const STSCI = join(FIXTURES, 'stsci', 'ecr-scan-report.yaml');
const CONDA_SBOM = join(FIXTURES, 'trivy', 'conda.json');
const IMAGES = (name: string) => `testdata/fixtures/images/${name}.tar.gz`;

const SITE = 'opt/venv/lib/python3.11/site-packages';
const file = (path: string, content: string): LayerSpec[number] => ({ path, type: 'file', content });
const LAYERS: LayerSpec[] = [
  [
    ...busyboxEntries(),
    file('etc/os-release', 'ID=debian\nVERSION_ID="12"\n'),
    file('var/lib/dpkg/status', 'Package: libssl3\nStatus: install ok installed\nSource: openssl\nVersion: 3.0.11-1~deb12u1\n\nPackage: tzdata\nStatus: install ok installed\nVersion: 2024a-0+deb12u1\n'),
    file(`${SITE}/PyYAML-5.3.1.dist-info/METADATA`, 'Metadata-Version: 2.1\nName: PyYAML\nVersion: 5.3.1\n'),
  ],
];
const range = (fixed: string) => [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed }] }];
const RECORDS = [
  // HIGH for an OS package and for a language package; LOW for another OS package.
  { id: 'DEBIAN-CVE-2099-1001', modified: '2024-06-01T00:00:00Z', affected: [{ package: { ecosystem: 'Debian:12', name: 'openssl' }, ranges: range('3.0.11-1~deb12u2'), ecosystem_specific: { urgency: 'high' } }] },
  { id: 'GHSA-test-pyya-ml01', modified: '2024-06-01T00:00:00Z', database_specific: { severity: 'HIGH' }, affected: [{ package: { ecosystem: 'PyPI', name: 'pyyaml' }, ranges: range('5.4') }] },
  { id: 'DEBIAN-CVE-2099-1002', modified: '2024-06-01T00:00:00Z', affected: [{ package: { ecosystem: 'Debian:12', name: 'tzdata' }, ranges: range('2099a-0'), ecosystem_specific: { urgency: 'low' } }] },
];

let work: string;
let scanJson: string;
let scanText: string;
let image: string;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'iw-scan-summarize-'));
  const archive = join(work, 'image.tar');
  await writeLayeredArchive(archive, 'imagewright-test/summarize:1', LAYERS);
  const advisories = join(work, 'advisories');
  mkdirSync(advisories);
  for (const r of RECORDS) writeFileSync(join(advisories, `${r.id}.json`), JSON.stringify(r));
  image = `docker-archive:${archive}`;
  scanJson = join(work, 'scan.json');
  const scan = await runBin('image-scan', [image, '--backend', 'osv', '--advisories', advisories, '--fail-on', 'none', '-o', scanJson]);
  expect(scan.code).toBe(0);
  scanText = readFileSync(scanJson, 'utf8');
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

const summarize = (args: string[], input?: string) => runBin('image-scan-summarize', args, input === undefined ? {} : { input });

describe('image-scan-summarize', () => {
  it('rows in a pipe: IMAGE | BASE | CRITICAL | HIGH | MEDIUM | LOW from each report, counted from its findings', async () => {
    const r = await summarize([BUSTER, ALPINE39, STRETCH, STSCI, scanJson]);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout.trimEnd().split('\n')).toEqual([
      `${IMAGES('debian-buster')} | debian 10.1 | 1 | 0 | 0 | 1`,
      `${IMAGES('alpine-39')} | alpine 3.9.4 | 2 | 0 | 4 | 0`,
      `${IMAGES('debian-stretch')} | debian 9.9 | 0 | 0 | 4 | 1`,
      // The report keeps its MEDIUM findings only (its level): those are what is counted.
      'jmiller-hub-user-image:roman-latest | - | 0 | 0 | 12 | 0',
      // Both an OS and a language package have a HIGH: total (os+lang).
      `${image} | debian 12 | 0 | 2 (1+1) | 0 | 1`,
    ]);
  });

  it("--csv: Canonical's columns, OS apart from language packages", async () => {
    const r = await summarize(['--csv', ALPINE39, scanJson]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(
      [
        'IMAGE,BASE,CRITICAL,HIGH,MEDIUM,LOW,CRITICAL-OS,CRITICAL-LANG,HIGH-OS,HIGH-LANG,MEDIUM-OS,MEDIUM-LANG,LOW-OS,LOW-LANG',
        `${IMAGES('alpine-39')},alpine 3.9.4,2,0,4,0,2,0,0,0,4,0,0,0`,
        `${image},debian 12,0,2,0,1,0,0,1,1,0,0,1,0`,
        '',
      ].join('\n'),
    );
  });

  it('--markdown: a table for a CI step summary', async () => {
    const r = await summarize(['--markdown', BUSTER, scanJson]);
    expect(r.stdout).toBe(
      [
        '### CVEs per image',
        '',
        '| IMAGE | BASE | CRITICAL | HIGH | MEDIUM | LOW |',
        '| -- | -- | -- | -- | -- | -- |',
        `| ${IMAGES('debian-buster')} | debian 10.1 | 1 | 0 | 0 | 1 |`,
        `| ${image} | debian 12 | 0 | 2 (1+1) | 0 | 1 |`,
        '',
      ].join('\n'),
    );
  });

  it('--lines: one grep-able line per finding, highest severity first', async () => {
    const r = await summarize(['--lines', BUSTER, scanJson]);
    expect(r.stdout.trimEnd().split('\n')).toEqual([
      `${IMAGES('debian-buster')}\tCRITICAL\tCVE-2019-18224\tlibidn2-0\t2.0.5-1\t2.0.5-1+deb10u1\tos`,
      `${IMAGES('debian-buster')}\tLOW\tCVE-2019-18276\tbash\t5.0-4\t-\tos`,
      `${image}\tHIGH\tDEBIAN-CVE-2099-1001\tlibssl3\t3.0.11-1~deb12u1\t3.0.11-1~deb12u2\tos`,
      `${image}\tHIGH\tGHSA-test-pyya-ml01\tPyYAML\t5.3.1\t5.4\tlang`,
      `${image}\tLOW\tDEBIAN-CVE-2099-1002\ttzdata\t2024a-0+deb12u1\t2099a-0\tos`,
    ]);
    // grep for LOW finds the LOW findings, not words containing it.
    expect(r.stdout.split('\n').filter((l) => l.split('\t')[1] === 'LOW')).toHaveLength(2);
  });

  it('--json: [{image, base, backend, total, counts, os, lang}]', async () => {
    const r = await summarize(['--json', STSCI, scanJson]);
    expect(r.code).toBe(0);
    const zero = { UNKNOWN: 0, INFORMATIONAL: 0, LOW: 0, MEDIUM: 0, HIGH: 0, CRITICAL: 0 };
    expect(JSON.parse(r.stdout)).toEqual([
      { image: 'jmiller-hub-user-image:roman-latest', base: '', backend: 'ecr', total: 12, counts: { ...zero, MEDIUM: 12 }, os: { ...zero, MEDIUM: 12 }, lang: zero },
      { image, base: 'debian 12', backend: 'osv', total: 3, counts: { ...zero, HIGH: 2, LOW: 1 }, os: { ...zero, HIGH: 1, LOW: 1 }, lang: { ...zero, HIGH: 1 } },
    ]);
  });

  it('stdin: - and no REPORT read it (image-scan --json | image-scan-summarize)', async () => {
    const dash = await summarize(['-'], scanText);
    expect(dash).toMatchObject({ code: 0, stdout: `${image} | debian 12 | 0 | 2 (1+1) | 0 | 1\n` });
    const none = await summarize([], readFileSync(BUSTER, 'utf8'));
    expect(none.stdout).toBe(`${IMAGES('debian-buster')} | debian 10.1 | 1 | 0 | 0 | 1\n`);
    const twice = await summarize(['-', '-'], scanText);
    expect(twice).toMatchObject({ code: 2, stdout: '', stderr: 'image-scan-summarize: REPORT -: stdin can be read once\n' });
  });

  it('an SBOM, a missing file, text that is no report: exit 2, one line', async () => {
    const notReport = join(work, 'notes.txt');
    writeFileSync(notReport, 'just: some\nyaml: here\n');
    const cases: [string[], string][] = [
      [[CONDA_SBOM], `image-scan-summarize: REPORT ${CONDA_SBOM}: an SBOM has no findings; scan it first (image-scan --sbom ${CONDA_SBOM} --json)`],
      [[join(work, 'missing.json')], `image-scan-summarize: REPORT ${join(work, 'missing.json')}: no such file; allowed a scan report or SBOM file, or - for stdin`],
      [[BUSTER, notReport], `image-scan-summarize: REPORT ${notReport}: not a scan report; allowed: image-scan --json, a Trivy JSON report, ECR describe-image-scan-findings JSON, ecr-scan-report.yaml, or a CycloneDX/SPDX SBOM`],
      [[BUSTER, '--csv', '--json'], 'image-scan-summarize: --csv and --json conflict: give at most one'],
    ];
    for (const [args, message] of cases) {
      const r = await summarize(args);
      expect({ args, ...r }).toEqual({ args, code: 2, stdout: '', stderr: `${message}\n` });
    }
  });

  it('installed as image-scan-summary too (the original’s name): the same output', async () => {
    const alias = spawnSync(join(REPO_ROOT, 'bin', 'image-scan-summary'), [BUSTER, scanJson], { encoding: 'utf8', env: { PATH: process.env.PATH, NO_COLOR: '1' } });
    const main = await summarize([BUSTER, scanJson]);
    expect(alias.status).toBe(0);
    expect(alias.stdout).toBe(main.stdout);
    expect(alias.stdout).toContain(`${image} | debian 12 | 0 | 2 (1+1) | 0 | 1`);
  });
});
