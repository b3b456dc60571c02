import { formatTable } from '@imagewright/core';
import { afterEach, describe, expect, it } from 'vitest';
import { createdSince, historyJson, historyTable, rfc3339, type HistoryEntry } from './history';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const NOW = Date.UTC(2026, 10, 22, 12, 0, 0);
const ID = `sha256:${'a'.repeat(64)}`;

const entry = (over: Partial<HistoryEntry>): HistoryEntry => ({
  id: ID,
  created: new Date(NOW - DAY),
  createdBy: '/bin/sh -c echo',
  size: 182964289,
  comment: '',
  tags: [],
  ...over,
});

/** Cells of a rendered table, cut at the header's column starts (as a reader's eye does). */
function cells(table: string): string[][] {
  const [header, ...lines] = table.trimEnd().split('\n');
  const starts = ['IMAGE', 'CREATED', 'CREATED BY', 'SIZE', 'COMMENT'].map((h) => header.indexOf(h));
  if (header.includes('CREATED AT')) starts[1] = header.indexOf('CREATED AT');
  return [header, ...lines].map((line) => starts.map((s, i) => line.slice(s, starts[i + 1]).trim()));
}

describe('historyTable', () => {
  it('renders the columns of docker history --no-trunc', () => {
    // Cases of docker/cli's own formatter test: a day old, the zero time, 17 years old, 183MB.
    const long = '/bin/bash ls && npm i && npm run test && karma -c karma.conf.js start && npm start && more commands here';
    const entries = [
      entry({ createdBy: long, comment: 'Hi', tags: ['image:tag2'] }),
      entry({ id: '<missing>', created: new Date(0), createdBy: '/bin/bash echo', comment: 'Hi' }),
      entry({ created: new Date(NOW - (17 * 365 + 4) * DAY), createdBy: '/bin/bash echo', size: 0 }),
    ];
    const { headers, rows } = historyTable(entries, { now: NOW });
    expect(headers).toEqual(['IMAGE', 'CREATED', 'CREATED BY', 'SIZE', 'COMMENT']);
    expect(rows).toEqual([
      [ID, '24 hours ago', long, '183MB', 'Hi'],
      ['<missing>', '', '/bin/bash echo', '183MB', 'Hi'],
      [ID, '17 years ago', '/bin/bash echo', '0B', ''],
    ]);
    // Through core's table: every cell starts at its header's column, nothing truncated.
    const table = formatTable(headers, rows);
    expect(cells(table)).toEqual([headers, ...rows]);
    expect(table).toContain(long);
  });

  it('replaces tabs in CREATED BY with spaces, as docker does (JSON keeps them)', () => {
    const e = entry({ createdBy: '/bin/sh -c apt-key adv\t--recv-keys 57\t&& echo' });
    expect(historyTable([e], { now: NOW }).rows[0][2]).toBe('/bin/sh -c apt-key adv --recv-keys 57 && echo');
    expect(historyJson([e])[0].createdBy).toBe(e.createdBy);
  });

  it('with human false prints CREATED AT as RFC 3339 and sizes in bytes', () => {
    withTZ('UTC');
    const e = entry({ created: new Date(Date.UTC(2009, 10, 10, 23, 0, 0)), size: 182964289 });
    const { headers, rows } = historyTable([e], { human: false });
    expect(headers).toEqual(['IMAGE', 'CREATED AT', 'CREATED BY', 'SIZE', 'COMMENT']);
    expect(rows[0]).toEqual([ID, '2009-11-10T23:00:00Z', '/bin/sh -c echo', '182964289', '']);
  });
});

describe('createdSince', () => {
  it('is "<HumanDuration> ago"', () => {
    expect(createdSince(new Date(NOW - 7 * DAY), NOW)).toBe('7 days ago');
    expect(createdSince(new Date(NOW - 400), NOW)).toBe('Less than a second ago');
    expect(createdSince(new Date(NOW - 3 * 60_000), NOW)).toBe('3 minutes ago');
  });

  it('is empty up to 2000-01-01, as docker shows no age for zero or epoch-0 builds', () => {
    expect(createdSince(new Date(0), NOW)).toBe('');
    expect(createdSince(new Date(Date.UTC(1980, 10, 10, 10, 23)), NOW)).toBe('');
    expect(createdSince(new Date(Date.UTC(2000, 0, 1)), NOW)).toBe('');
    expect(createdSince(new Date(Date.UTC(2000, 0, 1, 0, 0, 1)), NOW)).toBe('26 years ago');
  });

  it('says "Less than a second" for a creation time ahead of the clock (skew)', () => {
    expect(createdSince(new Date(NOW + 5000), NOW)).toBe('Less than a second ago');
  });
});

const savedTZ = process.env.TZ;
// Node re-reads TZ when it is assigned, so Date's local time follows it.
const withTZ = (tz: string) => void (process.env.TZ = tz);
afterEach(() => {
  if (savedTZ === undefined) delete process.env.TZ;
  else process.env.TZ = savedTZ;
});

describe('rfc3339', () => {
  const t = new Date(Date.UTC(2009, 10, 10, 23, 0, 0));
  it('is Z in UTC', () => {
    withTZ('UTC');
    expect(rfc3339(t)).toBe('2009-11-10T23:00:00Z');
  });
  it('carries the local offset elsewhere, as Go formats time.RFC3339', () => {
    withTZ('Asia/Kolkata');
    expect(rfc3339(t)).toBe('2009-11-11T04:30:00+05:30');
    withTZ('America/New_York');
    expect(rfc3339(t)).toBe('2009-11-10T18:00:00-05:00');
    expect(rfc3339(new Date(Date.UTC(2009, 6, 1, 12, 0, 0)))).toBe('2009-07-01T08:00:00-04:00');
  });
});

describe('historyJson', () => {
  it('keeps exact values: ISO time, bytes, tags', () => {
    const e = entry({ created: new Date(Date.UTC(2009, 10, 10, 23, 0, 0)), comment: 'Imported from -', tags: ['a:b'] });
    expect(historyJson([e])).toEqual([
      { id: ID, created: '2009-11-10T23:00:00.000Z', createdBy: '/bin/sh -c echo', size: 182964289, comment: 'Imported from -', tags: ['a:b'] },
    ]);
  });
});
