import { describe, expect, it } from 'vitest';
import { formatTestResult, parseTestEvent, type TestResult } from './tests';

const plain = { red: (t: string) => t, green: (t: string) => t, dim: (t: string) => t };

describe('parseTestEvent', () => {
  it('reads the runner protocol lines', () => {
    expect(parseTestEvent('{"event":"result","environment":"e","kind":"import","item":"import x","result":"ok","seconds":0.1}')).toEqual({
      event: 'result',
      environment: 'e',
      kind: 'import',
      item: 'import x',
      result: 'ok',
      seconds: 0.1,
    });
    expect(parseTestEvent('{"event":"summary","passed":1,"failed":0,"skipped":0,"seconds":1}')?.event).toBe('summary');
  });

  it('anything else printed on stdout is not an event', () => {
    for (const line of ['', 'hello', '{not json', '{"no":"event"}', '[1,2]', '{"event":3}']) expect(parseTestEvent(line)).toBeUndefined();
  });
});

describe('formatTestResult', () => {
  it('an ok item is one line; a failure carries its output indented; a skipped environment its reason', () => {
    const ok: TestResult = { environment: 'sci', item: 'import numpy', kind: 'import', result: 'ok', seconds: 0.051 };
    expect(formatTestResult(ok, plain)).toEqual(['[sci] import numpy ... ok (0.05s)']);
    const failed: TestResult = { ...ok, item: 'script t.py', kind: 'script', result: 'FAIL', seconds: 1.5, output: 'boom\n[exit status 1]\n' };
    expect(formatTestResult(failed, plain)).toEqual(['[sci] script t.py ... FAIL (1.50s)', '    boom', '    [exit status 1]']);
    const skipped: TestResult = { environment: 'bare', item: '', kind: 'environment', result: 'skipped', seconds: 0, reason: 'no tests/ folder' };
    expect(formatTestResult(skipped, plain)).toEqual(['[bare] skipped: no tests/ folder']);
  });
});
