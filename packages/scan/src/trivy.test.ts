import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { atOrAbove, countBySeverity, parseSeverity } from './finding';
import { diffScans, diffSummaryLine, newAtOrAbove } from './diff';
import { parseScanText, readScanFile } from './read';
import { findingLines, summarize, summaryCsv, summaryMarkdown, summaryRows } from './summary';
import { trivyFindings } from './trivy';
import { FIXTURES as TEST_FIXTURES } from '@imagewright/testing';

const FIXTURES = join(TEST_FIXTURES, 'trivy');
const report = (name: string) => JSON.parse(readFileSync(join(FIXTURES, name), 'utf8'));

describe('Trivy JSON reports (real fixtures)', () => {
  it('reads every vulnerability with its package, versions, layer and class', () => {
    const r = trivyFindings(report('debian-buster.json'));
    expect(r.backend).toBe('trivy');
    expect(r.distro).toBe('debian 10.1');
    expect(r.findings.map((f) => [f.id, f.severity, f.package.name, f.package.version, f.fixedVersion ?? null])).toEqual([
      ['CVE-2019-18276', 'LOW', 'bash', '5.0-4', null],
      ['CVE-2019-18224', 'CRITICAL', 'libidn2-0', '2.0.5-1', '2.0.5-1+deb10u1'],
    ]);
    expect(r.findings.every((f) => f.package.class === 'os' && f.package.type === 'deb')).toBe(true);
    expect(r.findings[0].package.layer).toBe('sha256:78c1b9419976227e05be9d243b7fa583bea44a5258e52018b2af4cdfe23d148d');
  });

  it('counts severities from the findings: alpine 3.9 has 4 MEDIUM and 2 CRITICAL', () => {
    const counts = countBySeverity(trivyFindings(report('alpine-39.json')).findings);
    expect(counts).toMatchObject({ CRITICAL: 2, HIGH: 0, MEDIUM: 4, LOW: 0 });
  });

  it("counts LOW once where scan.sh's grep | wc -l also counted OVERFLOW", () => {
    const data = report('debian-buster.json');
    data.Results[0].Vulnerabilities[1].Title = 'libidn2: heap OVERFLOW';
    const text = JSON.stringify(data, null, 2);
    expect(text.split('\n').filter((l) => l.includes('LOW')).length).toBe(2);
    expect(countBySeverity(trivyFindings(JSON.parse(text)).findings).LOW).toBe(1);
  });

  it('diffs buster against its --ignore-unfixed twin: the unfixed bash finding is gone', () => {
    const diff = diffScans(trivyFindings(report('debian-buster.json')), trivyFindings(report('debian-buster-ignore-unfixed.json')));
    expect(diff.fixed.map((f) => `${f.id} ${f.package.name}`)).toEqual(['CVE-2019-18276 bash']);
    expect(diff.introduced).toEqual([]);
    expect(diff.unchanged.map((f) => `${f.id} ${f.package.name}`)).toEqual(['CVE-2019-18224 libidn2-0']);
    expect(diffSummaryLine(diff)).toBe('1 fixed, 0 new, 1 unchanged');
    const reverse = diffScans(trivyFindings(report('debian-buster-ignore-unfixed.json')), trivyFindings(report('debian-buster.json')));
    expect(reverse.introduced.map((f) => f.id)).toEqual(['CVE-2019-18276']);
    expect(newAtOrAbove(reverse, 'LOW')).toHaveLength(1);
    expect(newAtOrAbove(reverse, 'MEDIUM')).toHaveLength(0);
  });

  it('diffs alpine 3.9 → 3.10: musl fixed, the openssl findings unchanged; a severity filter narrows both sides', () => {
    const older = trivyFindings(report('alpine-39.json'));
    const newer = trivyFindings(report('alpine-310.json'));
    const diff = diffScans(older, newer);
    expect(diff.fixed.map((f) => f.package.name).sort()).toEqual(['musl', 'musl-utils']);
    expect(diff.unchanged).toHaveLength(4);
    expect(diff.unchanged.every((f) => f.package.version === '1.1.1c-r0')).toBe(true);
    const critical = diffScans(older, newer, 'CRITICAL');
    expect(diffSummaryLine(critical)).toBe('2 fixed, 0 new, 0 unchanged');
  });
});

describe('summaries', () => {
  it('a row per image, OS and language counts apart, Canonical CSV columns', () => {
    const debian = trivyFindings(report('debian-stretch.json'));
    const lang = { ...debian, image: 'mixed', findings: [...debian.findings, { ...debian.findings[1], id: 'PYSEC-1', package: { name: 'requests', version: '2.0', type: 'pypi', class: 'lang' as const } }] };
    const rows = summaryRows([summarize(debian), summarize(lang)]);
    const counts = countBySeverity(debian.findings);
    expect(rows[0]).toEqual([debian.image, 'debian 9.9', String(counts.CRITICAL), String(counts.HIGH), String(counts.MEDIUM), String(counts.LOW)]);
    expect(rows[1][4]).toBe(`${counts.MEDIUM + 1} (${counts.MEDIUM}+1)`);
    const csv = summaryCsv([summarize(lang)]).trim().split('\n');
    expect(csv[0]).toBe('IMAGE,BASE,CRITICAL,HIGH,MEDIUM,LOW,CRITICAL-OS,CRITICAL-LANG,HIGH-OS,HIGH-LANG,MEDIUM-OS,MEDIUM-LANG,LOW-OS,LOW-LANG');
    expect(csv[1].split(',').slice(10, 12)).toEqual([String(counts.MEDIUM), '1']);
    expect(summaryMarkdown([summarize(debian)])).toContain('| IMAGE | BASE | CRITICAL | HIGH | MEDIUM | LOW |');
  });

  it('lines: one per finding, tab-separated, highest severity first', () => {
    const lines = findingLines(trivyFindings(report('debian-buster.json')));
    expect(lines).toHaveLength(2);
    expect(lines[0].split('\t')).toEqual(['testdata/fixtures/images/debian-buster.tar.gz', 'CRITICAL', 'CVE-2019-18224', 'libidn2-0', '2.0.5-1', '2.0.5-1+deb10u1', 'os']);
    expect(lines[1].split('\t')[5]).toBe('-');
  });
});

describe('scan files', () => {
  it('tells Trivy reports, our own JSON and SBOMs apart', () => {
    const trivy = readScanFile(join(FIXTURES, 'debian-buster.json'));
    expect(trivy.kind).toBe('scan');
    if (trivy.kind !== 'scan') return;
    const ours = parseScanText(JSON.stringify(trivy.result), 'x');
    expect(ours).toEqual(trivy);
    expect(readScanFile(join(FIXTURES, 'conda.json')).kind).toBe('sbom');
  });

  it('bad files are usage errors naming the file', () => {
    expect(() => readScanFile('/nonexistent/r.json')).toThrow(/REPORT \/nonexistent\/r\.json: no such file/);
    expect(() => parseScanText('{"a": 1}', 'REPORT x.json')).toThrow(/REPORT x\.json: not a scan report/);
    expect(() => parseScanText('{', 'REPORT x.json')).toThrow(/neither JSON nor YAML/);
    const bad = { image: 'i', backend: 'osv', findings: [{ id: 'X' }] };
    expect(() => parseScanText(JSON.stringify(bad), 'REPORT y')).toThrow(/findings\[0\]/);
  });
});

describe('severities', () => {
  it('parses user levels case-insensitively, ALL and INFORMATIONAL keep everything rated', () => {
    expect(parseSeverity('High', '--fail-on')).toBe('HIGH');
    expect(parseSeverity('all', '--fail-on')).toBe('INFORMATIONAL');
    expect(parseSeverity('none', '--fail-on', { allowNone: true })).toBeUndefined();
    expect(() => parseSeverity('CRITCAL', '--fail-on')).toThrow(/--fail-on "CRITCAL": allowed critical, high/);
    expect(() => parseSeverity('none', '--fail-on')).toThrow(/allowed/);
    const r = trivyFindings(report('debian-buster.json'));
    expect(atOrAbove(r.findings, 'HIGH').map((f) => f.id)).toEqual(['CVE-2019-18224']);
  });
});
