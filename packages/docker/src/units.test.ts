import { humanDuration, humanSize } from '@imagewright/core';
import { describe, expect, it } from 'vitest';

// core's humanSize/humanDuration stand in for docker/go-units, which the docker CLI uses for
// SIZE and CREATED columns. Expected values are go-units' and docker/cli's documented outputs.

const KB = 1000;
const MB = 1000 * KB;
const GB = 1000 * MB;
const TB = 1000 * GB;
const PB = 1000 * TB;

describe('humanSize = go-units HumanSizeWithPrecision(size, 3), as docker history/images print', () => {
  it('matches go-units TestHumanSize where precision 3 and 4 agree', () => {
    expect(humanSize(1000)).toBe('1kB');
    expect(humanSize(1000000)).toBe('1MB');
    expect(humanSize(2 * MB)).toBe('2MB');
    expect(humanSize(3.42 * GB)).toBe('3.42GB');
    expect(humanSize(2.22 * PB)).toBe('2.22PB');
  });

  it('rounds to 3 significant digits where go-units HumanSize (4 digits) prints more', () => {
    // go-units documents 1.024kB, 1.049MB, 5.372TB at precision 4.
    expect(humanSize(1024)).toBe('1.02kB');
    expect(humanSize(1048576)).toBe('1.05MB');
    expect(humanSize(5.372 * TB)).toBe('5.37TB');
  });

  it('matches docker/cli TestHistoryContext_Size and small sizes', () => {
    expect(humanSize(182964289)).toBe('183MB');
    expect(humanSize(0)).toBe('0B');
    expect(humanSize(2)).toBe('2B');
    expect(humanSize(999)).toBe('999B');
    expect(humanSize(1984238)).toBe('1.98MB');
  });

  // Seen from docker CLI 28.2.2 (`docker history` of layers of exactly these sizes): Go's %.3g
  // rounds exact ties to even and switches to an exponent at 1000.
  it('an exact tie rounds to even (1125 B is "1.12kB" in docker)', () => {
    expect(humanSize(1125)).toBe('1.12kB');
  });
  it('999.5+ of a unit prints as "1e+03" (999500 B is "1e+03kB" in docker)', () => {
    expect(humanSize(999500)).toBe('1e+03kB');
  });
});

describe('humanDuration = go-units HumanDuration', () => {
  const s = 1000;
  const minute = 60 * s;
  const hour = 60 * minute;
  const day = 24 * hour;
  const week = 7 * day;
  const month = 30 * day;
  const year = 365 * day;

  // go-units duration_test.go TestHumanDuration, case for case.
  const cases: [number, string][] = [
    [450, 'Less than a second'],
    [1 * s, '1 second'],
    [45 * s, '45 seconds'],
    [46 * s, '46 seconds'],
    [59 * s, '59 seconds'],
    [60 * s, 'About a minute'],
    [1 * minute, 'About a minute'],
    [3 * minute, '3 minutes'],
    [35 * minute, '35 minutes'],
    [35 * minute + 40 * s, '35 minutes'],
    [45 * minute, '45 minutes'],
    [45 * minute + 40 * s, '45 minutes'],
    [46 * minute, '46 minutes'],
    [59 * minute, '59 minutes'],
    [1 * hour, 'About an hour'],
    [1 * hour + 29 * minute, 'About an hour'],
    [1 * hour + 31 * minute, '2 hours'],
    [1 * hour + 59 * minute, '2 hours'],
    [3 * hour, '3 hours'],
    [3 * hour + 29 * minute, '3 hours'],
    [3 * hour + 31 * minute, '4 hours'],
    [3 * hour + 59 * minute, '4 hours'],
    [3 * hour + 60 * minute, '4 hours'],
    [24 * hour, '24 hours'],
    [1 * day + 12 * hour, '36 hours'],
    [2 * day, '2 days'],
    [7 * day, '7 days'],
    [13 * day + 5 * hour, '13 days'],
    [2 * week, '2 weeks'],
    [2 * week + 4 * day, '2 weeks'],
    [3 * week, '3 weeks'],
    [4 * week, '4 weeks'],
    [4 * week + 3 * day, '4 weeks'],
    [1 * month, '4 weeks'],
    [1 * month + 2 * week, '6 weeks'],
    [2 * month, '2 months'],
    [2 * month + 2 * week, '2 months'],
    [3 * month, '3 months'],
    [3 * month + 1 * week, '3 months'],
    [5 * month + 2 * week, '5 months'],
    [13 * month, '13 months'],
    [23 * month, '23 months'],
    [24 * month, '24 months'],
    [24 * month + 2 * week, '2 years'],
    [3 * year + 2 * month, '3 years'],
  ];
  it.each(cases)('%d ms → %s', (ms, expected) => {
    expect(humanDuration(ms)).toBe(expected);
  });

  it('treats a negative duration (clock skew) as less than a second, as Go does', () => {
    expect(humanDuration(-5000)).toBe('Less than a second');
  });
});
