import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ImagewrightError } from '@imagewright/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Finding, FindingSeverity, ScanResult } from './finding';
import { gateLine, gateScan } from './gate';

// The gate on a scan written here: which findings remain after the ignore rules and which of
// those fail the level; every expected value follows from the six findings below.

const finding = (id: string, severity: FindingSeverity, pkg: string, aliases: string[] = []): Finding => ({
  id,
  aliases,
  severity,
  package: { name: pkg, version: '1.0', type: 'deb', class: 'os' },
});
const FINDINGS: Finding[] = [
  finding('CVE-2099-0002', 'HIGH', 'requests', ['PYSEC-2099-2', 'GHSA-aaaa-bbbb-cccc']),
  finding('CVE-2099-0001', 'CRITICAL', 'openssl', ['DSA-9999-1']),
  finding('GHSA-xxxx-yyyy-zzzz', 'MEDIUM', 'urllib3'),
  finding('CVE-2099-0004', 'LOW', 'bash'),
  finding('CVE-2099-0005', 'UNKNOWN', 'foo'),
  finding('CVE-2099-0001', 'CRITICAL', 'libssl3', ['DSA-9999-1']),
];
const scan = (): ScanResult => ({ image: 'demo:1', backend: 'osv', distro: 'debian 12', findings: structuredClone(FINDINGS) });
const TODAY = new Date('2026-03-15T12:00:00Z');

let work: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'iw-gate-'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

const ignoreFile = (name: string, text: string) => {
  const path = join(work, name);
  writeFileSync(path, text);
  return path;
};

describe('gateScan: fail levels', () => {
  it('HIGH: the two CRITICAL (one advisory, two packages) and the HIGH fail; ids once each, highest first', () => {
    const { result, gate } = gateScan(scan(), 'HIGH', undefined, TODAY);
    expect(result.findings).toEqual(FINDINGS);
    expect(gate).toEqual({ failOn: 'HIGH', passed: false, failing: 3, failingIds: ['CVE-2099-0001', 'CVE-2099-0002'], ignored: [], stale: [], expired: [] });
    expect(gateLine(gate)).toBe('gate FAILED: 3 findings at or above HIGH (CVE-2099-0001, CVE-2099-0002)');
  });

  it('CRITICAL, MEDIUM, LOW, INFORMATIONAL: counts at or above; UNKNOWN never fails a gate by itself', () => {
    const failing = (level: FindingSeverity) => gateScan(scan(), level, undefined, TODAY).gate.failing;
    expect(failing('CRITICAL')).toBe(2);
    expect(failing('MEDIUM')).toBe(4);
    expect(failing('LOW')).toBe(5);
    expect(failing('INFORMATIONAL')).toBe(5);
    const unknownOnly = gateScan({ ...scan(), findings: [FINDINGS[4]] }, 'INFORMATIONAL', undefined, TODAY).gate;
    expect(unknownOnly).toMatchObject({ passed: true, failing: 0 });
    expect(gateLine(unknownOnly)).toBe('gate passed: nothing at or above INFORMATIONAL');
  });

  it('none (undefined): no threshold, passed whatever there is', () => {
    const { gate } = gateScan(scan(), undefined, undefined, TODAY);
    expect(gate).toEqual({ passed: true, failing: 0, failingIds: [], ignored: [], stale: [], expired: [] });
    expect(gateLine(gate)).toBe('gate: none (--fail-on none)');
  });

  it('one failing finding is singular; more than five ids are cut with …', () => {
    const one = gateScan({ ...scan(), findings: [FINDINGS[0]] }, 'HIGH', undefined, TODAY).gate;
    expect(gateLine(one)).toBe('gate FAILED: 1 finding at or above HIGH (CVE-2099-0002)');
    const many = Array.from({ length: 7 }, (_, i) => finding(`CVE-2099-100${i}`, 'HIGH', `p${i}`));
    const gate = gateScan({ ...scan(), findings: many }, 'HIGH', undefined, TODAY).gate;
    expect(gateLine(gate)).toBe('gate FAILED: 7 findings at or above HIGH (CVE-2099-1000, CVE-2099-1001, CVE-2099-1002, CVE-2099-1003, CVE-2099-1004, …)');
  });
});

describe('gateScan: ignore files', () => {
  it('ids, aliases, a safety.ignore table row, exp: dates past and future, a stale rule; an alias of an already ignored finding is not stale', () => {
    const file = ignoreFile(
      'mixed.ignore',
      [
        '# accepted risks',
        'DSA-9999-1                # openssl and libssl3, by their DSA alias',
        '| requests | 2.28.1 | <2.31.0 | GHSA-aaaa-bbbb-cccc |',
        'GHSA-xxxx-yyyy-zzzz exp:2026-03-14',
        'CVE-2099-0004 exp:2026-04-01',
        'CVE-2099-9999',
        'cve-2099-0001',
        '',
      ].join('\n'),
    );
    const { result, gate } = gateScan(scan(), 'MEDIUM', file, TODAY);
    expect(result.findings.map((f) => `${f.id} ${f.package.name}`)).toEqual(['GHSA-xxxx-yyyy-zzzz urllib3', 'CVE-2099-0005 foo']);
    expect(result).toMatchObject({ image: 'demo:1', backend: 'osv', distro: 'debian 12' });
    expect(gate.ignored).toEqual([
      { id: 'CVE-2099-0002', package: 'requests', rule: `GHSA-aaaa-bbbb-cccc at ${file}:3` },
      { id: 'CVE-2099-0001', package: 'openssl', rule: `DSA-9999-1 at ${file}:2` },
      { id: 'CVE-2099-0004', package: 'bash', rule: `CVE-2099-0004 (until 2026-04-01) at ${file}:5` },
      { id: 'CVE-2099-0001', package: 'libssl3', rule: `DSA-9999-1 at ${file}:2` },
    ]);
    expect(gate.stale).toEqual([`CVE-2099-9999 at ${file}:6`]);
    expect(gate.expired).toEqual([`GHSA-xxxx-yyyy-zzzz (until 2026-03-14) at ${file}:4`]);
    // The expired rule ignores nothing: its MEDIUM finding fails the MEDIUM gate.
    expect(gate).toMatchObject({ failOn: 'MEDIUM', passed: false, failing: 1, failingIds: ['GHSA-xxxx-yyyy-zzzz'] });
    // HIGH: nothing at or above it remains.
    expect(gateScan(scan(), 'HIGH', file, TODAY).gate).toMatchObject({ passed: true, failing: 0 });
  });

  it('a rule ignores through its expiry day, not the day after', () => {
    const file = ignoreFile('day.ignore', 'CVE-2099-0002 2026-03-15\n');
    expect(gateScan(scan(), 'HIGH', file, new Date('2026-03-15T23:59:00Z')).gate).toMatchObject({ failing: 2, expired: [] });
    expect(gateScan(scan(), 'HIGH', file, new Date('2026-03-16T00:01:00Z')).gate).toMatchObject({ failing: 3, expired: [`CVE-2099-0002 (until 2026-03-15) at ${file}:1`] });
  });

  it('the ignore file is the only thing between a gate and a pass: ignoring every failing id passes; stale rules do not', () => {
    const file = ignoreFile('all.ignore', 'CVE-2099-0001\nPYSEC-2099-2\n');
    const { gate } = gateScan(scan(), 'HIGH', file, TODAY);
    expect(gate).toMatchObject({ passed: true, failing: 0, stale: [] });
    expect(gate.ignored).toHaveLength(3);
    expect(gateScan(scan(), 'HIGH', ignoreFile('stale.ignore', 'CVE-2000-1\n'), TODAY).gate).toMatchObject({ passed: false, failing: 3, stale: [expect.stringMatching(/^CVE-2000-1 at .*:1$/)] });
  });

  it('a missing ignore file and a bad line are usage errors naming them', () => {
    const missing = join(work, 'nope.ignore');
    const thrown = (fn: () => unknown) => {
      try {
        fn();
      } catch (error) {
        return error as ImagewrightError;
      }
      throw new Error('did not throw');
    };
    expect(thrown(() => gateScan(scan(), 'HIGH', missing, TODAY))).toMatchObject({ exitCode: 2, message: `ignore file ${missing}: no such file` });
    const bad = ignoreFile('bad.ignore', '# ok\nCVE-2099-0001 tomorrow\n');
    expect(thrown(() => gateScan(scan(), 'HIGH', bad, TODAY))).toMatchObject({ exitCode: 2, message: expect.stringMatching(new RegExp(`^${bad}:2: "tomorrow" after CVE-2099-0001`)) });
  });
});
