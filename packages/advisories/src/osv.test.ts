import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { osvQueryOf } from './identity';
import { affects, ecosystemMatches, inRange, normalizePackageName, parseOsvRecord, type OsvRecord } from './osv';
import { cvss3BaseScore, severityOf } from './severity';
import { FIXTURES as TEST_FIXTURES } from '@imagewright/testing';

const FIXTURES = join(TEST_FIXTURES, 'osv', 'pypi');
const TESTDATA = join(__dirname, '../testdata/osv');

function load(dir: string): Map<string, OsvRecord> {
  const records = new Map<string, OsvRecord>();
  for (const sub of readdirSync(dir)) {
    for (const file of readdirSync(join(dir, sub))) {
      const record = parseOsvRecord(readFileSync(join(dir, sub, file), 'utf8'), file);
      records.set(record.id, record);
    }
  }
  return records;
}

const fixtures = load(FIXTURES);
const testdata = load(TESTDATA);
const record = (id: string): OsvRecord => fixtures.get(id) ?? testdata.get(id) ?? expect.fail(`no record ${id}`);

/** [ecosystem, name, version, fixed versions or false when not affected] — all worked out by hand from the records. */
type Case = [string, string, string, string[] | false];

function check(id: string, cases: Case[]): void {
  const r = record(id);
  const wrong: string[] = [];
  for (const [ecosystem, name, version, want] of cases) {
    const got = affects(r, { ecosystem, name, version });
    const summary = got ? got.fixed : false;
    if (JSON.stringify(summary) !== JSON.stringify(want)) wrong.push(`${ecosystem} ${name} ${version}: got ${JSON.stringify(summary)}, want ${JSON.stringify(want)}`);
  }
  expect(wrong, id).toEqual([]);
}

describe('the PyPA fixture advisories', () => {
  test('all six parse from YAML with every version a string', () => {
    expect([...fixtures.keys()].sort()).toEqual(['PYSEC-2021-856', 'PYSEC-2023-11', 'PYSEC-2023-175', 'PYSEC-2023-192', 'PYSEC-2023-74', 'PYSEC-2023-75']);
    for (const r of fixtures.values()) {
      for (const a of r.affected ?? []) for (const v of a.versions ?? []) expect(typeof v).toBe('string');
    }
    expect(record('PYSEC-2023-11').affected![0].versions).toContain('1.8');
  });

  test('requests: introduced 2.3.0, fixed 2.31.0 (PYSEC-2023-74)', () => {
    check('PYSEC-2023-74', [
      ['PyPI', 'requests', '2.28.1', ['2.31.0']],
      ['PyPI', 'requests', '2.3.0', ['2.31.0']],
      ['PyPI', 'requests', '2.30.0', ['2.31.0']],
      ['PyPI', 'requests', '2.31.0rc1', ['2.31.0']],
      ['PyPI', 'requests', '2.2.1', false],
      ['PyPI', 'requests', '2.31.0', false],
      ['PyPI', 'requests', '2.32.3', false],
      ['PyPI', 'Requests', '2.28.1', ['2.31.0']],
      ['npm', 'requests', '2.28.1', false],
      ['PyPI', 'requests-oauthlib', '2.28.1', false],
    ]);
  });

  test('cryptography: introduced 1.8, fixed 39.0.1 (PYSEC-2023-11)', () => {
    check('PYSEC-2023-11', [
      ['PyPI', 'cryptography', '1.7.2', false],
      ['PyPI', 'cryptography', '1.8a1', false],
      ['PyPI', 'cryptography', '1.8', ['39.0.1']],
      ['PyPI', 'cryptography', '1.8.0', ['39.0.1']],
      ['PyPI', 'cryptography', '3.4.8', ['39.0.1']],
      ['PyPI', 'cryptography', '39.0.0', ['39.0.1']],
      ['PyPI', 'cryptography', '39.0.1', false],
      ['PyPI', 'cryptography', '41.0.7', false],
    ]);
  });

  test('numpy: from the start until 1.19.1 (PYSEC-2021-856)', () => {
    check('PYSEC-2021-856', [
      ['PyPI', 'numpy', '0.9.6', ['1.19.1']],
      ['PyPI', 'numpy', '1.0b1', ['1.19.1']],
      ['PyPI', 'numpy', '1.19.0', ['1.19.1']],
      ['PyPI', 'numpy', '1.19.0rc2', ['1.19.1']],
      ['PyPI', 'numpy', '1.19.1', false],
      ['PyPI', 'numpy', '1.21.6', false],
      ['PyPI', 'NumPy', '1.18.5', ['1.19.1']],
    ]);
  });

  test('pillow: a range without a versions list (PYSEC-2023-175)', () => {
    check('PYSEC-2023-175', [
      ['PyPI', 'Pillow', '9.5.0', ['10.0.1']],
      ['PyPI', 'pillow', '10.0.0', ['10.0.1']],
      ['PyPI', 'pillow', '10.0.1', false],
      ['PyPI', 'pillow', '10.1.0', false],
    ]);
  });

  test('tornado: up to 6.3.2 (PYSEC-2023-75)', () => {
    check('PYSEC-2023-75', [
      ['PyPI', 'tornado', '4.5.3', ['6.3.2']],
      ['PyPI', 'tornado', '6.3.1', ['6.3.2']],
      ['PyPI', 'tornado', '6.3.2', false],
      ['PyPI', 'tornado', '6.4', false],
    ]);
  });

  test('urllib3: two introduced/fixed pairs listed out of order (PYSEC-2023-192)', () => {
    check('PYSEC-2023-192', [
      ['PyPI', 'urllib3', '1.25.11', ['1.26.17']],
      ['PyPI', 'urllib3', '1.26.16', ['1.26.17']],
      ['PyPI', 'urllib3', '1.26.17', false],
      ['PyPI', 'urllib3', '1.26.18', false],
      ['PyPI', 'urllib3', '1.26.99', false],
      ['PyPI', 'urllib3', '2.0.0', ['2.0.6']],
      ['PyPI', 'urllib3', '2.0.5', ['2.0.6']],
      ['PyPI', 'urllib3', '2.0.6', false],
      ['PyPI', 'urllib3', '2.1.0', false],
    ]);
  });

  test('severities: only urllib3 states one (CVSS 3.1 8.1 → HIGH)', () => {
    const got = Object.fromEntries([...fixtures.values()].map((r) => [r.id, severityOf(r, r.affected![0])]));
    expect(got).toEqual({
      'PYSEC-2023-11': 'UNKNOWN',
      'PYSEC-2021-856': 'UNKNOWN',
      'PYSEC-2023-175': 'UNKNOWN',
      'PYSEC-2023-74': 'UNKNOWN',
      'PYSEC-2023-75': 'UNKNOWN',
      'PYSEC-2023-192': 'HIGH',
    });
  });
});

describe('Debian, Ubuntu, Alpine and other advisories written for the tests', () => {
  test('Debian: ~ point releases, per release', () => {
    check('DEBIAN-CVE-2099-0001', [
      ['Debian:12', 'openssl', '3.0.11-1~deb12u1', ['3.0.11-1~deb12u2']],
      ['Debian:12', 'openssl', '3.0.9-1', ['3.0.11-1~deb12u2']],
      ['Debian:12', 'openssl', '3.0.11-1~deb12u2', false],
      ['Debian:12', 'openssl', '3.0.11-1', false],
      ['Debian:11', 'openssl', '1.1.1n-0+deb11u5', ['1.1.1w-0+deb11u1']],
      ['Debian:11', 'openssl', '1.1.1w-0+deb11u1', false],
      ['Debian:13', 'openssl', '3.0.9-1', false],
      ['Ubuntu:22.04', 'openssl', '3.0.9-1', false],
    ]);
  });

  test('Debian: epochs and two intervals, a bare ecosystem covering every release', () => {
    const cases: Case[] = [];
    for (const release of ['Debian:11', 'Debian:12']) {
      cases.push(
        [release, 'libfoo', '2.9-1', false],
        [release, 'libfoo', '1:2.0-1', ['1:2.4-1']],
        [release, 'libfoo', '1:2.4~rc1-1', ['1:2.4-1']],
        [release, 'libfoo', '1:2.4-1', false],
        [release, 'libfoo', '1:2.9-1', false],
        [release, 'libfoo', '1:3.0~rc1-1', ['1:3.0-2']],
        [release, 'libfoo', '1:3.0-1', ['1:3.0-2']],
        [release, 'libfoo', '1:3.0-2', false],
        [release, 'libfoo', '3.0-1', false],
      );
    }
    check('DEBIAN-CVE-2099-0002', cases);
  });

  test('Debian: last_affected includes its own version only', () => {
    check('DSA-9999-1', [
      ['Debian:12', 'zlib', '1:1.2.13.dfsg-1', []],
      ['Debian:12', 'zlib', '1:1.2.11.dfsg-2', []],
      ['Debian:12', 'zlib', '1.2.13.dfsg-1', []],
      ['Debian:12', 'zlib', '1:1.2.13.dfsg-1+deb12u1', false],
    ]);
  });

  test('Ubuntu: Ubuntu:22.04:LTS answers Ubuntu:22.04, Pro records do not', () => {
    check('UBUNTU-CVE-2099-0004', [
      ['Ubuntu:22.04', 'curl', '7.81.0-1ubuntu1.14', ['7.81.0-1ubuntu1.15']],
      ['Ubuntu:22.04', 'curl', '7.81.0-1ubuntu1.15', false],
      ['Ubuntu:22.04', 'curl', '7.81.0-1ubuntu1.16', false],
      ['Ubuntu:18.04', 'curl', '7.58.0-2ubuntu3.24', false],
      ['Ubuntu:20.04', 'curl', '7.68.0-1ubuntu2', false],
    ]);
  });

  test('Alpine: -rN revisions, pre- and post-release suffixes', () => {
    check('ALPINE-CVE-2099-0005', [
      ['Alpine:v3.18', 'busybox', '1.36.1-r1', ['1.36.1-r2']],
      ['Alpine:v3.18', 'busybox', '1.36.1', ['1.36.1-r2']],
      ['Alpine:v3.18', 'busybox', '1.36.1_rc1-r5', ['1.36.1-r2']],
      ['Alpine:v3.18', 'busybox', '1.36.0-r9', ['1.36.1-r2']],
      ['Alpine:v3.18', 'busybox', '1.36.1-r2', false],
      ['Alpine:v3.18', 'busybox', '1.36.1-r10', false],
      ['Alpine:v3.18', 'busybox', '1.36.1_p1-r0', false],
      ['Alpine:v3.19', 'busybox', '1.36.1_rc1-r0', ['1.36.1-r15']],
      ['Alpine:v3.19', 'busybox', '1.36.1-r14', ['1.36.1-r15']],
      ['Alpine:v3.19', 'busybox', '1.36.1_beta1-r0', false],
      ['Alpine:v3.19', 'busybox', '1.36.1-r15', false],
      ['Alpine:v3.19', 'busybox', '1.36.0-r0', false],
      ['Alpine:v3.17', 'busybox', '1.36.1-r1', false],
    ]);
  });

  test('PyPI: last_affected, a versions-only entry, PEP 503 names', () => {
    check('GHSA-9999-test-reqs', [
      ['PyPI', 'requests', '2.28.1', []],
      ['PyPI', 'requests', '2.25.0', []],
      ['PyPI', 'requests', '2.24.0', false],
      ['PyPI', 'requests', '2.28.2', false],
      ['PyPI', 'Requests-Toolbelt', '0.10.0', []],
      ['PyPI', 'requests.toolbelt', '0.10', []],
      ['PyPI', 'requests_toolbelt', '0.10.1', false],
    ]);
  });

  test('SEMVER ranges with prerelease identifiers, and a limit', () => {
    check('GHSA-9999-test-npmx', [
      ['npm', 'left-pad', '1.0.0-beta.1', false],
      ['npm', 'left-pad', '1.0.0-beta.11', ['1.0.0']],
      ['npm', 'left-pad', '1.0.0-rc.1', ['1.0.0']],
      ['npm', 'left-pad', '1.0.0', false],
      ['npm', 'left-pad', '0.4.9', []],
      ['npm', 'left-pad', '0.5.0', false],
      ['npm', 'Left-Pad', '0.4.9', false],
    ]);
  });

  test('a withdrawn record affects nothing; GIT ranges are ignored', () => {
    const r = { ...record('PYSEC-2023-74') };
    expect(affects(r, { ecosystem: 'PyPI', name: 'requests', version: '2.28.1' })).toBeDefined();
    expect(affects({ ...r, withdrawn: '2099-01-01T00:00:00Z' }, { ecosystem: 'PyPI', name: 'requests', version: '2.28.1' })).toBeUndefined();
    const gitOnly: OsvRecord = { ...r, affected: [{ ...r.affected![0], versions: [], ranges: r.affected![0].ranges!.filter((x) => x.type === 'GIT') }] };
    expect(affects(gitOnly, { ecosystem: 'PyPI', name: 'requests', version: '2.28.1' })).toBeUndefined();
  });

  test('ties: introduced and fixed at the same version make an empty interval', () => {
    expect(inRange({ type: 'ECOSYSTEM', events: [{ fixed: '1.0' }, { introduced: '1.0' }] }, 'pep440', '1.0').affected).toBe(false);
    expect(inRange({ type: 'ECOSYSTEM', events: [{ introduced: '1.0' }, { last_affected: '1.0' }] }, 'pep440', '1.0').affected).toBe(true);
  });

  test('severities: entry, database, Debian urgency, Ubuntu priority, CVSS', () => {
    const sev = (id: string, i = 0) => severityOf(record(id), record(id).affected![i]);
    expect(sev('DEBIAN-CVE-2099-0001', 0)).toBe('MEDIUM');
    expect(sev('DEBIAN-CVE-2099-0001', 1)).toBe('LOW');
    expect(sev('DEBIAN-CVE-2099-0002')).toBe('UNKNOWN');
    expect(sev('DSA-9999-1')).toBe('HIGH');
    expect(sev('UBUNTU-CVE-2099-0004')).toBe('LOW');
    expect(sev('GHSA-9999-test-reqs')).toBe('MEDIUM');
    expect(sev('GHSA-9999-test-npmx')).toBe('HIGH');
    const base: OsvRecord = { id: 'X-1', modified: '' };
    expect(severityOf({ ...base, database_specific: { severity: 'LOW' } }, { ecosystem_specific: { severity: 'CRITICAL' } })).toBe('CRITICAL');
    expect(severityOf({ ...base, severity: [{ type: 'CVSS_V4', score: 'CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N' }] })).toBe('CRITICAL');
    expect(severityOf({ ...base, severity: [{ type: 'CVSS_V4', score: 'CVSS:4.0/AV:N' }] })).toBe('UNKNOWN');
    expect(severityOf({ ...base, severity: [{ type: 'CVSS_V2', score: 'AV:N/AC:L/Au:N/C:P/I:P/A:P' }] })).toBe('HIGH');
    expect(severityOf({ ...base, severity: [{ type: 'CVSS_V3', score: 'CVSS:3.1/AV:X/AC:L' }] })).toBe('UNKNOWN');
    expect(severityOf(base)).toBe('UNKNOWN');
  });
});

describe('CVSS 3.x base scores', () => {
  test('NVD-published scores of well-known vectors', () => {
    const known: [string, number][] = [
      ['CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H', 9.8],
      ['CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H', 10.0],
      ['CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N', 6.1],
      ['CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H', 7.8],
      ['CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:N/A:N', 5.9],
      ['CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:N', 8.1],
      ['CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H', 7.5],
      ['CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N', 0],
    ];
    for (const [vector, score] of known) expect(cvss3BaseScore(vector), vector).toBe(score);
    for (const bad of ['', 'CVSS:2.0/AV:N', 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H', 'CVSS:3.1/AV:Q/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H', 'CVSS:3.1/AV:N/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H']) {
      expect(cvss3BaseScore(bad), bad).toBeUndefined();
    }
  });

  test('agrees with ae-cvss-calculator on every 3.1 and 3.0 base vector', () => {
    const lib = require('ae-cvss-calculator') as { fromVector(v: string): { calculateScores(): { base: number } } };
    const values = { AV: 'NALP', AC: 'LH', PR: 'NLH', UI: 'NR', S: 'UC', C: 'HLN', I: 'HLN', A: 'HLN' };
    let vectors = [''];
    for (const [key, options] of Object.entries(values)) vectors = vectors.flatMap((v) => [...options].map((o) => `${v}/${key}:${o}`));
    const wrong: string[] = [];
    for (const prefix of ['CVSS:3.1', 'CVSS:3.0']) {
      for (const v of vectors) {
        const ours = cvss3BaseScore(prefix + v);
        const theirs = lib.fromVector(prefix + v).calculateScores().base;
        if (ours !== theirs) wrong.push(`${prefix}${v}: ${ours} vs ${theirs}`);
      }
    }
    expect(vectors.length).toBe(2592);
    expect(wrong.slice(0, 10)).toEqual([]);
  });
});

describe('matching helpers', () => {
  test('ecosystems', () => {
    expect(ecosystemMatches('Debian:12', 'Debian:12')).toBe(true);
    expect(ecosystemMatches('Debian', 'Debian:12')).toBe(true);
    expect(ecosystemMatches('Debian:11', 'Debian:12')).toBe(false);
    expect(ecosystemMatches('Debian:12', 'Debian')).toBe(false);
    expect(ecosystemMatches('Ubuntu:22.04:LTS', 'Ubuntu:22.04')).toBe(true);
    expect(ecosystemMatches('Ubuntu:Pro:22.04:LTS', 'Ubuntu:22.04')).toBe(false);
    expect(ecosystemMatches('Alpine:v3.18', 'Alpine:v3.1')).toBe(false);
    expect(ecosystemMatches('PyPI', 'PyPI')).toBe(true);
    expect(ecosystemMatches('PyPI', 'npm')).toBe(false);
  });

  test('PEP 503 names', () => {
    expect(normalizePackageName('PyPI', 'Foo__Bar.-baz')).toBe('foo-bar-baz');
    expect(normalizePackageName('Debian:12', 'libFoo_1')).toBe('libFoo_1');
  });

  test('bad records are usage errors naming the source', () => {
    expect(() => parseOsvRecord('id: [unclosed', 'x.yaml')).toThrow(/^x\.yaml: not JSON or YAML/);
    expect(() => parseOsvRecord('{"modified": "x"}', 'y.json')).toThrow('y.json: OSV record without an id');
    expect(() => parseOsvRecord('- a\n- b\n', 'z.yaml')).toThrow('z.yaml: not an OSV record');
    expect(() => parseOsvRecord('{"id": "A", "affected": [{"ranges": [{"type": "ECOSYSTEM"}]}]}', 'w.json')).toThrow('w.json: A: a range without events');
    try {
      parseOsvRecord('{}', 'v.json');
    } catch (err) {
      expect((err as { exitCode: number }).exitCode).toBe(2);
    }
  });
});

describe('osvQueryOf', () => {
  test('debs by source package, per release', () => {
    const libssl = { type: 'deb', name: 'libssl3', version: '3.0.11-1~deb12u2', source: 'openssl', sourceVersion: '3.0.11-1~deb12u2' };
    expect(osvQueryOf(libssl, { id: 'debian', versionId: '12' })).toEqual({ ecosystem: 'Debian:12', name: 'openssl', version: '3.0.11-1~deb12u2' });
    expect(osvQueryOf({ ...libssl, source: undefined, sourceVersion: undefined }, { id: 'debian', versionId: '12' })?.name).toBe('libssl3');
    expect(osvQueryOf(libssl, { id: 'ubuntu', versionId: '22.04' })?.ecosystem).toBe('Ubuntu:22.04');
    expect(osvQueryOf(libssl, { id: 'debian' })).toBeUndefined();
    expect(osvQueryOf(libssl, { id: 'raspbian', versionId: '12' })).toBeUndefined();
    // a binNMU: the binary's version differs from its source's
    expect(osvQueryOf({ type: 'deb', name: 'libfoo1', version: '1.0-1+b1', source: 'foo', sourceVersion: '1.0-1' }, { id: 'debian', versionId: '11' })?.version).toBe('1.0-1');
  });

  test('apk by origin, Alpine:vMAJOR.MINOR', () => {
    expect(osvQueryOf({ type: 'apk', name: 'libcrypto3', version: '3.1.4-r0', source: 'openssl' }, { id: 'alpine', versionId: '3.18.4' })).toEqual({
      ecosystem: 'Alpine:v3.18',
      name: 'openssl',
      version: '3.1.4-r0',
    });
    expect(osvQueryOf({ type: 'apk', name: 'busybox', version: '1.36.1-r2' }, { id: 'debian', versionId: '12' })).toBeUndefined();
  });

  test('pypi always, conda only when asked', () => {
    expect(osvQueryOf({ type: 'pypi', name: 'Requests', version: '2.28.1' })).toEqual({ ecosystem: 'PyPI', name: 'Requests', version: '2.28.1' });
    expect(osvQueryOf({ type: 'conda', name: 'numpy', version: '1.19.0' })).toBeUndefined();
    expect(osvQueryOf({ type: 'conda', name: 'numpy', version: '1.19.0' }, undefined, { condaAsPyPI: true })).toEqual({ ecosystem: 'PyPI', name: 'numpy', version: '1.19.0' });
    expect(osvQueryOf({ type: 'rpm', name: 'x', version: '1' })).toBeUndefined();
  });
});
