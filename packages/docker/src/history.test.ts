import { renderFormat } from '@imagewright/core';
import { afterEach, describe, expect, it } from 'vitest';
import { createdSince, HISTORY_HEADER, HISTORY_TABLE_FORMAT, HISTORY_TABLE_FORMAT_EXACT, historyJson, historyRows, rfc3339, type HistoryEntry } from './history';

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

const table = (entries: HistoryEntry[], now = NOW, human = true) =>
  renderFormat('table', historyRows(entries, { now, human }), { header: HISTORY_HEADER, table: human ? HISTORY_TABLE_FORMAT : HISTORY_TABLE_FORMAT_EXACT });

describe('history rows through the default table format', () => {
  it("is docker/cli's own TestHistoryContext_Table, byte for byte (no-trunc)", () => {
    const long = '/bin/bash ls && npm i && npm run test && karma -c karma.conf.js start && npm start && more commands here && the list goes on';
    const at = (id: string, created: Date, createdBy: string) => entry({ id, created, createdBy, comment: 'Hi', tags: ['image:tag2'] });
    const day = new Date(NOW - DAY);
    // time.Now().AddDate(-17, 0, 0)
    const old = new Date(Date.UTC(2009, 10, 22, 12, 0, 0));
    const entries = [
      at('imageID1', day, long),
      at('imageID2', day, '/bin/bash echo'),
      at('imageID3', day, '/bin/bash ls'),
      at('imageID4', day, '/bin/bash grep'),
      at('imageID5', new Date(0), '/bin/bash echo'),
      at('imageID6', old, '/bin/bash echo'),
    ];
    const expectedNoTrunc = `IMAGE      CREATED        CREATED BY                                                                                                                     SIZE      COMMENT
imageID1   24 hours ago   /bin/bash ls && npm i && npm run test && karma -c karma.conf.js start && npm start && more commands here && the list goes on   183MB     Hi
imageID2   24 hours ago   /bin/bash echo                                                                                                                 183MB     Hi
imageID3   24 hours ago   /bin/bash ls                                                                                                                   183MB     Hi
imageID4   24 hours ago   /bin/bash grep                                                                                                                 183MB     Hi
imageID5   N/A            /bin/bash echo                                                                                                                 183MB     Hi
imageID6   17 years ago   /bin/bash echo                                                                                                                 183MB     Hi
`;
    expect(table(entries)).toBe(expectedNoTrunc);
  });

  it('replaces tabs in CreatedBy with spaces, as docker does (--json keeps them)', () => {
    const e = entry({ createdBy: '/bin/sh -c apt-key adv\t--recv-keys 57\t&& echo' });
    expect(historyRows([e])[0]!.CreatedBy).toBe('/bin/sh -c apt-key adv --recv-keys 57 && echo');
    expect(historyJson([e])[0]!.createdBy).toBe(e.createdBy);
  });

  it('with human false prints CREATED AT as RFC 3339 and sizes in bytes', () => {
    withTZ('UTC');
    const e = entry({ id: ID, created: new Date(Date.UTC(2009, 10, 10, 23, 0, 0)), size: 182964289 });
    expect(table([e], NOW, false)).toBe(
      `IMAGE${' '.repeat(69)}CREATED AT             CREATED BY        SIZE        COMMENT\n${ID}   2009-11-10T23:00:00Z   /bin/sh -c echo   182964289   \n`,
    );
    expect(historyRows([e], { human: false })[0]!.CreatedSince).toBe('2009-11-10T23:00:00Z'); // as docker: no age without human
  });

  it("{{json .}} is docker's: every field, keys sorted, <, > and & escaped", () => {
    withTZ('UTC');
    const e = entry({ id: '<missing>', created: new Date(Date.UTC(2009, 10, 10, 23, 0, 0)), createdBy: 'RUN a && b > c', comment: 'x' });
    expect(renderFormat('{{json .}}', historyRows([e], { now: NOW }))).toBe(
      '{"Comment":"x","CreatedAt":"2009-11-10T23:00:00Z","CreatedBy":"RUN a \\u0026\\u0026 b \\u003e c","CreatedSince":"17 years ago","ID":"\\u003cmissing\\u003e","Size":"183MB"}\n',
    );
  });
});

describe('createdSince', () => {
  it('is "<HumanDuration> ago"', () => {
    expect(createdSince(new Date(NOW - 7 * DAY), NOW)).toBe('7 days ago');
    expect(createdSince(new Date(NOW - 400), NOW)).toBe('Less than a second ago');
    expect(createdSince(new Date(NOW - 3 * 60_000), NOW)).toBe('3 minutes ago');
  });

  it('is N/A up to 2000-01-01, as docker shows no age for zero or epoch-0 builds', () => {
    expect(createdSince(new Date(0), NOW)).toBe('N/A');
    expect(createdSince(new Date(Date.UTC(1980, 10, 10, 10, 23)), NOW)).toBe('N/A');
    expect(createdSince(new Date(Date.UTC(2000, 0, 1)), NOW)).toBe('N/A');
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
