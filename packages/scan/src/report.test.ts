import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ImagewrightError } from '@imagewright/core';
import { FIXTURES } from '@imagewright/testing';
import { describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { fromEcrFindings, type EcrBasicFinding } from './ecr';
import type { Finding, ScanResult } from './finding';
import { pythonIsoTime, readStsciReport, stsciReport } from './report';

// A real report (STScI, 2020): 12 MEDIUM findings kept of 85, counts over all 85.
const FIXTURE = readFileSync(join(FIXTURES, 'stsci', 'ecr-scan-report.yaml'), 'utf8');
const fixture = YAML.parse(FIXTURE) as {
  imageId: { imageDigest: string; imageTag: string };
  imageScanFindings: { findingSeverityCounts: Record<string, number>; findings: (EcrBasicFinding & { cve_status: string })[]; imageScanCompletedAt: string; vulnerabilitySourceUpdatedAt: string };
  imageScanStatus: { description: string; status: string };
  registryId: string;
  repositoryName: string;
};

/** Key order too: JSON.stringify keeps it. */
const ordered = (value: unknown) => JSON.stringify(value, null, 1);

/** ECR's whole answer behind the fixture: its 12 MEDIUM findings plus the LOW and INFORMATIONAL ones it dropped. */
function ecrAnswerBehindFixture() {
  const kept = fixture.imageScanFindings.findings.map(({ cve_status: _status, ...finding }) => finding);
  const dropped = (severity: string, n: number) =>
    Array.from({ length: n }, (_, i) => ({ name: `CVE-2020-${severity.length}${i}`, severity, uri: `http://people.ubuntu.com/~ubuntu-security/cve/CVE-2020-${i}`, attributes: [] }));
  // Interleaved, as ECR lists by package: the report keeps ECR's order of what it keeps.
  const low = dropped('LOW', 47);
  const info = dropped('INFORMATIONAL', 26);
  const findings: EcrBasicFinding[] = [];
  for (let i = 0; i < 47; i++) findings.push(...[kept[i], low[i], info[i]].filter(Boolean));
  return {
    registryId: fixture.registryId,
    repositoryName: fixture.repositoryName,
    imageId: fixture.imageId,
    imageScanStatus: fixture.imageScanStatus,
    imageScanFindings: {
      imageScanCompletedAt: new Date('2020-11-18T21:48:56Z'),
      vulnerabilitySourceUpdatedAt: new Date('2020-11-04T01:21:09Z'),
      findingSeverityCounts: { INFORMATIONAL: 26, LOW: 47, MEDIUM: 12 },
      findings,
    },
  };
}

/** The fixture's cve_status tails by CVE: what the trackers said then. */
const fixtureStatuses = new Map(fixture.imageScanFindings.findings.map((f) => [f.name!, f.cve_status.split(' -- ').slice(2).join(' -- ')]));

const finding = (id: string, severity: Finding['severity'], extra: Partial<Finding> = {}): Finding => ({
  id,
  aliases: [],
  severity,
  package: { name: `pkg-${id}`, version: '1.0-1', type: 'deb', class: 'os' },
  ...extra,
});
const result = (findings: Finding[], extra: Partial<ScanResult> = {}): ScanResult => ({ image: 'repo:tag', backend: 'ecr', findings, ...extra });

describe('stsciReport: the original layout', () => {
  it('ECR’s answer behind the real report gives the report: same keys, order and values (overall_status added)', () => {
    const scan = fromEcrFindings(ecrAnswerBehindFixture());
    const report = stsciReport(scan, { level: 'MEDIUM', releaseStatus: (f) => fixtureStatuses.get(f.id) });
    const ours = YAML.parse(report.yaml) as Record<string, unknown>;
    expect(ours.overall_status).toBe('OK');
    delete ours.overall_status;
    expect(ordered(ours)).toBe(ordered(fixture));
    expect(report.kept).toHaveLength(12);
    // PyYAML's block layout: top-level keys in order, sequences flush with their key, times quoted.
    const lines = report.yaml.split('\n');
    expect(lines.filter((l) => /^\S/.test(l))).toEqual(['imageId:', 'imageScanFindings:', 'imageScanStatus:', 'overall_status: OK', "registryId: '328656936502'", 'repositoryName: jmiller-hub-user-image']);
    expect(lines).toContain('  findings:');
    expect(lines).toContain('  - attributes:');
    expect(lines).toContain("  imageScanCompletedAt: '2020-11-18T21:48:56+00:00'");
    expect(lines).toContain('    cve_status: CVE-2016-1585 -- MEDIUM -- Ubuntu 20.04 LTS (Focal Fossa) -- Deferred');
  });

  it('PyYAML (the consumers’ reader) loads our report as the same data as the real one', () => {
    const probe = spawnSync(PYTHON, ['-c', 'import yaml'], { encoding: 'utf8' });
    if (probe.status !== 0) {
      if (process.env.CI === 'true') throw new Error(`python3 with PyYAML is needed in CI: ${probe.stderr || probe.error}`);
      console.warn('skipped: no python3 with PyYAML here');
      return;
    }
    const report = stsciReport(fromEcrFindings(ecrAnswerBehindFixture()), { level: 'MEDIUM', releaseStatus: (f) => fixtureStatuses.get(f.id) });
    // safe_load both, drop overall_status, dump sorted as the original did: the same text.
    const script = 'import sys, yaml\nd = yaml.safe_load(sys.stdin.read())\nd.pop("overall_status", None)\nprint(yaml.dump(d))';
    const python = (input: string) => spawnSync(PYTHON, ['-c', script], { encoding: 'utf8', input });
    const fromFixture = python(FIXTURE);
    const fromOurs = python(report.yaml);
    expect(fromOurs.stderr).toBe('');
    expect(fromFixture.stdout).toBe(FIXTURE);
    expect(fromOurs.stdout).toBe(fromFixture.stdout);
  });

// Debian's python3 (tools/bootstrap installs python3-yaml there), not whatever python3 PATH finds first.
const PYTHON = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';

  it('readStsciReport → stsciReport reproduces the real report (counts kept from the file, cve_status from releaseStatus)', () => {
    const scan = readStsciReport(FIXTURE, 'ecr-scan-report.yaml');
    expect(scan).toMatchObject({
      image: 'jmiller-hub-user-image:roman-latest',
      digest: fixture.imageId.imageDigest,
      backend: 'ecr',
      registry: '328656936502',
      repository: 'jmiller-hub-user-image',
      tag: 'roman-latest',
      scannedAt: '2020-11-18T21:48:56.000Z',
      databaseUpdatedAt: '2020-11-04T01:21:09.000Z',
      scanStatus: { status: 'COMPLETE', description: 'The scan was completed successfully.' },
      severityCounts: { INFORMATIONAL: 26, LOW: 47, MEDIUM: 12 },
    });
    expect(scan.findings).toHaveLength(12);
    expect(scan.findings[0]).toMatchObject({
      id: 'CVE-2016-1585',
      severity: 'MEDIUM',
      package: { name: 'apparmor', version: '2.13.3-7ubuntu5.1', type: 'deb', class: 'os' },
      releaseStatus: 'Ubuntu 20.04 LTS (Focal Fossa) -- Deferred',
    });
    const again = YAML.parse(stsciReport(scan, { level: 'MEDIUM' }).yaml) as Record<string, unknown>;
    delete again.overall_status;
    expect(ordered(again)).toBe(ordered(fixture));
  });

  it('overall_status: FAILED when a kept finding is HIGH or CRITICAL (the original never failed on CRITCAL); findings below the level are neither kept nor failing', () => {
    const status = (findings: Finding[], level: Finding['severity'], failLevel?: Finding['severity']) => stsciReport(result(findings), { level, failLevel }).overallStatus;
    expect(status([finding('CVE-1', 'CRITICAL')], 'MEDIUM')).toBe('FAILED');
    expect(status([finding('CVE-1', 'HIGH')], 'LOW')).toBe('FAILED');
    expect(status([finding('CVE-1', 'MEDIUM'), finding('CVE-2', 'LOW')], 'LOW')).toBe('OK');
    expect(status([finding('CVE-1', 'HIGH')], 'CRITICAL')).toBe('OK');
    expect(status([finding('CVE-1', 'MEDIUM')], 'LOW', 'MEDIUM')).toBe('FAILED');
    const report = stsciReport(result([finding('CVE-1', 'CRITICAL')]), { level: 'HIGH' });
    expect((YAML.parse(report.yaml) as { overall_status: string }).overall_status).toBe('FAILED');
  });

  it('findingSeverityCounts over all findings (UNKNOWN as ECR’s UNDEFINED); cve_status unknown without a status; other backends get package attributes', () => {
    const scan = result(
      [
        finding('CVE-1', 'HIGH', { uri: 'https://x/CVE-1', description: 'd' }),
        finding('CVE-2', 'LOW'),
        finding('CVE-3', 'LOW'),
        finding('GHSA-4', 'UNKNOWN'),
        finding('CVE-5', 'INFORMATIONAL', { releaseStatus: 'Debian 12 (bookworm) -- vulnerable' }),
      ],
      { digest: 'sha256:1', tag: 't', registry: '123456789012', repository: 'r', scanStatus: { status: 'COMPLETE' } },
    );
    const report = stsciReport(scan, { level: 'INFORMATIONAL' });
    const doc = YAML.parse(report.yaml) as { imageScanFindings: { findingSeverityCounts: Record<string, number>; findings: Record<string, unknown>[] } };
    expect(ordered(doc.imageScanFindings.findingSeverityCounts)).toBe(ordered({ HIGH: 1, INFORMATIONAL: 1, LOW: 2, UNDEFINED: 1 }));
    expect(doc.imageScanFindings.findings.map((f) => f.cve_status)).toEqual([
      'CVE-1 -- HIGH -- unknown',
      'CVE-2 -- LOW -- unknown',
      'CVE-3 -- LOW -- unknown',
      'CVE-5 -- INFORMATIONAL -- Debian 12 (bookworm) -- vulnerable',
    ]);
    expect(ordered(doc.imageScanFindings.findings[0])).toBe(
      ordered({
        attributes: [
          { key: 'package_version', value: '1.0-1' },
          { key: 'package_name', value: 'pkg-CVE-1' },
        ],
        cve_status: 'CVE-1 -- HIGH -- unknown',
        description: 'd',
        name: 'CVE-1',
        severity: 'HIGH',
        uri: 'https://x/CVE-1',
      }),
    );
    // The YAML is the document, and nothing else.
    expect(YAML.parse(report.yaml)).toEqual(report.document);
    expect(stsciReport(result([]), { level: 'LOW' }).yaml).toBe("imageId: {}\nimageScanFindings:\n  findingSeverityCounts: {}\n  findings: []\noverall_status: OK\n");
  });

  it('values YAML would retype stay strings (1.1 booleans, numbers, times)', () => {
    const scan = result([finding('CVE-1', 'HIGH', { description: 'yes', attributes: [{ key: 'CVSS2_SCORE', value: '7.5' }, { key: 'package_name', value: 'on' }] })], { registry: '012345678901', tag: '1.0' });
    const text = stsciReport(scan, { level: 'LOW' }).yaml;
    expect(text).toContain("description: 'yes'");
    expect(text).toContain("value: 'on'");
    expect(text).toContain("registryId: '012345678901'");
    expect(YAML.parse(text, { version: '1.1' })).toEqual(YAML.parse(text));
  });

  it('pythonIsoTime: the aws CLI’s form of a UTC time', () => {
    expect(pythonIsoTime('2020-11-18T21:48:56.000Z')).toBe('2020-11-18T21:48:56+00:00');
    expect(pythonIsoTime('2020-11-18T21:48:56.123Z')).toBe('2020-11-18T21:48:56.123000+00:00');
  });
});

describe('readStsciReport', () => {
  const usage = (fn: () => unknown) => {
    try {
      fn();
    } catch (error) {
      expect(error).toBeInstanceOf(ImagewrightError);
      return error as ImagewrightError;
    }
    throw new Error('expected a usage error');
  };

  it('reads ECR’s describe-image-scan-findings JSON (parsed) too; bad files are usage errors naming the file', () => {
    const scan = readStsciReport({ repositoryName: 'r', imageId: { imageTag: 't' }, imageScanFindings: { findings: [{ name: 'CVE-9', severity: 'HIGH' }] } });
    expect(scan.findings.map((f) => [f.id, f.severity, f.releaseStatus])).toEqual([['CVE-9', 'HIGH', undefined]]);
    expect(usage(() => readStsciReport('a: [', 'x.yaml')).message).toMatch(/^x\.yaml: not YAML/);
    expect(usage(() => readStsciReport('a: 1\n', 'x.yaml'))).toMatchObject({ exitCode: 2, message: 'x.yaml: not an ECR scan report (no imageScanFindings mapping)' });
    expect(usage(() => readStsciReport('imageScanFindings:\n  findings: 3\n', 'x.yaml')).message).toBe('x.yaml: imageScanFindings.findings is not a list of mappings');
  });
});
