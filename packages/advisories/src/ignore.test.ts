import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { applyIgnores, parseIgnores, readIgnoreFile } from './ignore';
import { FIXTURES } from '@imagewright/testing';

const SAFETY_IGNORE = join(FIXTURES, 'stsci', 'safety.ignore');

const requests = { id: 'PYSEC-2023-74', aliases: ['CVE-2023-32681', 'GHSA-j8r2-6x86-q33q'] };
const urllib3 = { id: 'PYSEC-2023-192', aliases: ['CVE-2023-43804', 'GHSA-v845-jxx5-vc9f'] };
const numpy = { id: 'PYSEC-2021-856', aliases: ['CVE-2021-41495'] };
const safetyNumbered = { id: '40675' };

describe('parsing', () => {
  test("the original safety.ignore: comments and blank lines only, so no rules", () => {
    expect(readIgnoreFile(SAFETY_IGNORE)).toEqual([]);
  });

  test('its table rows, uncommented, give the 4th field', () => {
    const text = readFileSync(SAFETY_IGNORE, 'utf8').replace(/^# (\|.*)$/gm, '$1');
    const rules = parseIgnores(text, 'safety.ignore');
    expect(rules.map((r) => r.id)).toEqual(['40675', '40676', '40673', '40795', '40794']);
    expect(rules[0].where).toBe('safety.ignore:4');
  });

  test('IDs, aliases, expiry dates in both spellings, trailing comments', () => {
    const rules = parseIgnores(
      [
        'PYSEC-2023-74',
        '  GHSA-v845-jxx5-vc9f   2030-01-31   # cookies, waiting for the rebuild',
        'CVE-2021-41495 exp:2020-06-30',
        '| tensorflow | 1.15.5 | <2.1.4 | 40675 | # old',
        'CVE-2099-0001\t# never seen',
      ].join('\n'),
      'ig',
    );
    expect(rules).toEqual([
      { id: 'PYSEC-2023-74', where: 'ig:1' },
      { id: 'GHSA-v845-jxx5-vc9f', expires: '2030-01-31', comment: 'cookies, waiting for the rebuild', where: 'ig:2' },
      { id: 'CVE-2021-41495', expires: '2020-06-30', where: 'ig:3' },
      { id: '40675', comment: 'old', where: 'ig:4' },
      { id: 'CVE-2099-0001', comment: 'never seen', where: 'ig:5' },
    ]);
  });

  test('bad lines are usage errors with file:line', () => {
    const bad: [string, RegExp][] = [
      ['\n\nPYSEC-1 2025-13-01', /^f:3: "2025-13-01" after PYSEC-1: expected one expiry date/],
      ['PYSEC-1 2025-02-30', /^f:1: "2025-02-30"/],
      ['PYSEC-1 2025-01-01 2026-01-01', /^f:1: "2026-01-01"/],
      ['ignore this please', /^f:1: "this" after ignore/],
      ['| tensorflow | 1.15.5 |', /^f:1: a safety table row needs 4 fields/],
      ['exp:2025-01-01', /^f:1: "exp:2025-01-01" is not an advisory ID/],
      ['CVE/2023', /^f:1: "CVE\/2023" is not an advisory ID/],
    ];
    for (const [text, pattern] of bad) {
      expect(() => parseIgnores(text, 'f'), text).toThrow(pattern);
      try {
        parseIgnores(text, 'f');
      } catch (err) {
        expect((err as { exitCode: number }).exitCode).toBe(2);
      }
    }
    expect(() => readIgnoreFile('/nonexistent/ignores')).toThrow('ignore file /nonexistent/ignores: no such file');
  });
});

describe('applying', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ignores-'));
  const file = join(dir, '.trivyignore');
  writeFileSync(
    file,
    [
      '# by alias, by id, expiring, stale',
      'cve-2023-32681',
      'PYSEC-2023-192 exp:2025-06-30',
      'CVE-2021-41495 2025-06-29',
      'GHSA-0000-0000-0000',
      '| tensorflow | 1.15.5 | <2.1.4 | 40675 |',
    ].join('\n'),
  );
  const rules = readIgnoreFile(file);
  rmSync(dir, { recursive: true });
  const items = [requests, urllib3, numpy, safetyNumbered];

  test('on the expiry day rules still ignore', () => {
    const out = applyIgnores(items, rules, new Date('2025-06-29T23:00:00Z'));
    expect(out.kept).toEqual([]);
    expect(out.ignored.map(({ item, rule }) => [item.id, rule.id])).toEqual([
      ['PYSEC-2023-74', 'cve-2023-32681'],
      ['PYSEC-2023-192', 'PYSEC-2023-192'],
      ['PYSEC-2021-856', 'CVE-2021-41495'],
      ['40675', '40675'],
    ]);
    expect(out.stale.map((r) => [r.id, r.where])).toEqual([['GHSA-0000-0000-0000', `${file}:5`]]);
    expect(out.expired).toEqual([]);
  });

  test('after it they are expired and ignore nothing', () => {
    const out = applyIgnores(items, rules, new Date('2025-06-30T12:00:00Z'));
    expect(out.kept.map((i) => i.id)).toEqual(['PYSEC-2021-856']);
    expect(out.expired.map((r) => r.id)).toEqual(['CVE-2021-41495']);
    const later = applyIgnores(items, rules, new Date('2025-07-01T00:00:00Z'));
    expect(later.kept.map((i) => i.id)).toEqual(['PYSEC-2023-192', 'PYSEC-2021-856']);
    expect(later.expired.map((r) => r.id)).toEqual(['PYSEC-2023-192', 'CVE-2021-41495']);
    expect(later.stale.map((r) => r.id)).toEqual(['GHSA-0000-0000-0000']);
  });

  test('two rules for one advisory (its id and an alias): neither is stale', () => {
    const both = parseIgnores('PYSEC-2023-74\nGHSA-j8r2-6x86-q33q\n', 'x');
    const out = applyIgnores([requests], both);
    expect(out.ignored).toHaveLength(1);
    expect(out.stale).toEqual([]);
  });

  test('no rules keep everything', () => {
    expect(applyIgnores(items, [])).toEqual({ kept: items, ignored: [], stale: [], expired: [] });
  });
});
