import { describe, expect, it } from 'vitest';
import { tagReference } from './reference';

describe('tagReference', () => {
  it('gives repo:tag, adding latest', () => {
    expect(tagReference('demo-user-image')).toBe('demo-user-image:latest');
    expect(tagReference('localhost:5000/team/img:1.2_rc-3')).toBe('localhost:5000/team/img:1.2_rc-3');
    expect(tagReference('Registry.Example.com/a/b')).toBe('Registry.Example.com/a/b:latest');
  });
  it('refuses what docker would not tag, naming the input', () => {
    for (const bad of ['Upper/case', 'img@sha256:' + 'a'.repeat(64), 'a'.repeat(64), 'img:', 'img:-x', 'a//b', '', 'img:tag:more', 'a b']) {
      expect(() => tagReference(bad, '--tag')).toThrow(/^--tag ".*": not a tag; allowed/);
    }
  });
});
