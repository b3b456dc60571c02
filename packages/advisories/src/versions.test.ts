import { execFileSync } from 'node:child_process';
import { describe, expect, test } from 'vitest';
import { compareApk, compareDpkg, compareGeneric, comparePep440, compareSemver, compareVersions, isValidApk, isValidVersion, parseDpkg, schemeOf } from './versions';

/** Every pair of an ascending list compares as its positions do. */
function expectAscending(compare: (a: string, b: string) => number, list: string[]): void {
  const wrong: string[] = [];
  list.forEach((a, i) =>
    list.forEach((b, j) => {
      const want = Math.sign(i - j);
      const got = Math.sign(compare(a, b));
      if (got !== want) wrong.push(`${a} vs ${b}: ${got}, want ${want}`);
    }),
  );
  expect(wrong).toEqual([]);
}

describe('PEP 440', () => {
  test("the PEP's own ordering of suffixes", () => {
    // PEP 440, "Summary of permitted suffixes and relative ordering".
    expectAscending(comparePep440, [
      '1.dev0',
      '1.0.dev456',
      '1.0a1',
      '1.0a2.dev456',
      '1.0a12.dev456',
      '1.0a12',
      '1.0b1.dev456',
      '1.0b2',
      '1.0b2.post345.dev456',
      '1.0b2.post345',
      '1.0rc1.dev456',
      '1.0rc1',
      '1.0',
      '1.0+abc.5',
      '1.0+abc.7',
      '1.0+5',
      '1.0.post456.dev34',
      '1.0.post456',
      '1.0.15',
      '1.1.dev1',
    ]);
  });

  test('epochs, release segments, normalisation', () => {
    expectAscending(comparePep440, ['1.9', '1.10', '2.0', '10.0', '1!0.1', '1!1.0', '2!0.0.1']);
    // Normalised spellings are equal.
    for (const [a, b] of [
      ['1.0', '1.0.0'],
      ['1.0RC1', '1.0rc1'],
      ['1.0c1', '1.0rc1'],
      ['1.0-1', '1.0.post1'],
      ['1.0a', '1.0a0'],
      ['1.0.alpha.1', '1.0a1'],
      ['v1.0', '1.0'],
      [' 1.0 ', '1.0'],
      ['1.0-dev', '1.0.dev0'],
    ]) {
      expect(comparePep440(a, b), `${a} = ${b}`).toBe(0);
    }
    expect(compareVersions('PyPI', '39.0.1rc1', '39.0.1')).toBeLessThan(0);
    expect(isValidVersion('PyPI', '1.0b2.post345.dev456')).toBe(true);
    expect(isValidVersion('PyPI', 'not.a.version')).toBe(false);
  });
});

describe('dpkg', () => {
  // deb-version(7): epoch first, `~` before anything (even the end), letters before other signs.
  const ascending = [
    '0.9-1',
    '1.0~~-1',
    '1.0~~a-1',
    '1.0~-1',
    '1.0~rc1-1',
    '1.0-1~bpo12+1',
    '1.0-1',
    '1.0-1+deb12u1',
    '1.0-2',
    '1.0-10',
    '1.0a-1',
    '1.0+dfsg-1',
    '1.0.1-1',
    '1.10-1',
    '2.0',
    '10.0-1',
    '20230101-1',
    '1:0.1-1',
    '1:0.1-1ubuntu0.22.04.1',
    '2:0.0.1',
  ];

  test('the ordering of deb-version(7)', () => {
    expectAscending(compareDpkg, ascending);
  });

  test('agrees with dpkg --compare-versions on every pair', () => {
    const wrong: string[] = [];
    for (const a of ascending) {
      for (const b of ascending) {
        const lt = spawnOk(['--compare-versions', a, 'lt', b]);
        const eq = spawnOk(['--compare-versions', a, 'eq', b]);
        const dpkg = lt ? -1 : eq ? 0 : 1;
        if (Math.sign(compareDpkg(a, b)) !== dpkg) wrong.push(`${a} vs ${b}: dpkg says ${dpkg}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  test("dpkg's own parse cases (lib/dpkg/t/t-version.c)", () => {
    for (const v of ['0', '0:0', '0:0-', '0:0-0', '0-00', '00-0']) expect(compareDpkg(v, '0'), v).toBe(0);
    expect(compareDpkg('0:0.0-0.0', '0.0-0.0')).toBe(0);
    expect(parseDpkg('0:0-0-0')).toEqual({ epoch: '0', upstream: '0-0', revision: '0' });
    expect(parseDpkg('0:0:0-0')).toEqual({ epoch: '0', upstream: '0:0', revision: '0' });
    expect(parseDpkg('0:09azAZ.-+~:-0')).toEqual({ epoch: '0', upstream: '09azAZ.-+~:', revision: '0' });
    expect(parseDpkg('  0:0-1\t')).toEqual({ epoch: '0', upstream: '0', revision: '1' });
    for (const bad of ['', '  ', '0:', '0:0 0-1', '-1:0-1', 'a:0-0', '-0', '0:-0', '0:abc3-0', '0:0-0:0', '0:0_-0', '0:0-0_']) {
      expect(parseDpkg(bad), JSON.stringify(bad)).toBeUndefined();
      expect(isValidVersion('Debian:12', bad)).toBe(false);
    }
    expect(compareDpkg('1:0', '0:0')).toBeGreaterThan(0);
    expect(compareDpkg('0-a', '0-b')).toBeLessThan(0);
    expect(compareVersions('Ubuntu:22.04:LTS', '7.81.0-1ubuntu1.14', '7.81.0-1ubuntu1.15')).toBeLessThan(0);
  });
});

describe('apk', () => {
  test("apk-tools' ordering: letters, pre and post suffixes, revisions, hashes, leading zeros", () => {
    expectAscending(compareApk, [
      '0.1.0_alpha_pre2',
      '0.1.0_alpha',
      '0.1.0_alpha2',
      '0.1.0_beta',
      '0.1.0_pre',
      '0.1.0_rc1',
      '0.1.0',
      '0.1.0-r1',
      '0.1.0-r2',
      '0.1.0-r10',
      // A commit hash sorts after any -rN of the plain version (the shorter tail wins).
      '0.1.0~1234',
      '0.1.0~2345',
      '0.1.0_cvs',
      '0.1.0_svn',
      '0.1.0_git20240101',
      '0.1.0_hg',
      '0.1.0_p1',
      '0.1.0_p2-r0',
      '0.1.0_p10',
      '0.1.0a',
      '0.1.0b',
      '0.1.001',
      '0.1.01',
      '0.1.1',
      '0.1.1.1',
      '0.1.2',
      '0.1.10',
      '1.0',
      '2.34',
    ]);
    expect(compareApk('1.0~1234-r1', '1.0~1234-r0')).toBeGreaterThan(0);
    expect(compareApk('1.0', '1.0bc')).toBeLessThan(0);
    expect(compareApk('1.0.4-r3', '1.0.4-r3')).toBe(0);
  });

  test('validity as apk version_test data', () => {
    for (const v of ['1.2', '0.1_pre2', '0.1_pre2~1234abcd', '0.1_p1_pre2', '0.1_alpha1_pre2', '0.1_git20240101_pre1', '1.36.1-r2']) {
      expect(isValidApk(v), v).toBe(true);
    }
    for (const v of ['', '0.1bc', '0.1a1', '0.1a.1', '0.1_pre2~', '0.1_pre2~1234xbcd', '0.1_foobar', '0.1-pre1.1', '0.1-r', '0.1-r2_pre1', '0.1-r2-r3', '.1', 'a', '_pre1', '-r1', '0.1_', '0.1__alpha']) {
      expect(isValidVersion('Alpine:v3.18', v), v).toBe(false);
    }
  });
});

describe('other ecosystems', () => {
  test('SemVer 2.0 precedence (semver.org §11)', () => {
    expectAscending(compareSemver, ['1.0.0-alpha', '1.0.0-alpha.1', '1.0.0-alpha.beta', '1.0.0-beta', '1.0.0-beta.2', '1.0.0-beta.11', '1.0.0-rc.1', '1.0.0', '1.0.1', '1.2.0', '1.10.0', '2.0.0']);
    expect(compareSemver('1.0.0+build.1', '1.0.0+build.2')).toBe(0);
    expect(compareVersions('npm', 'v1.2.3', '1.2.3')).toBe(0);
    expect(schemeOf('crates.io')).toBe('semver');
  });

  test('the numeric-segment fallback', () => {
    expectAscending(compareGeneric, ['1.0rc1', '1.0', '1.0.1', '1.2', '1.9', '1.10', '2.0.0', '20240101']);
    expect(compareVersions('Maven', '2.0.0', '2.0')).toBeGreaterThan(0);
    expect(schemeOf('Maven')).toBe('generic');
    expect(isValidVersion('Maven', 'none')).toBe(false);
  });
});

function spawnOk(args: string[]): boolean {
  try {
    execFileSync('dpkg', args, { stdio: 'ignore' });
    return true;
  } catch (err) {
    if ((err as { status?: number }).status === 1) return false;
    throw err;
  }
}
