import { describe, expect, it } from 'vitest';
import { metadataYaml, parseMetadata, type PatchMetadata } from './metadata';

const base: PatchMetadata = {
  author: 'Ada Lovelace <ada@example.org>',
  description: 'openssl to 3.0.15',
  time: '2024-05-06T07:08:09.000Z',
  source: { image: 'example/app:1.0', id: `sha256:${'a'.repeat(64)}`, repoDigests: [`example/app@sha256:${'b'.repeat(64)}`] },
  script: { name: 'apt-upgrade', sha256: 'c'.repeat(64) },
  files: ['ca-bundle.pem'],
  imagewright: '0.1.0',
  exitStatus: 0,
};

describe('metadataYaml → parseMetadata', () => {
  const texts = [
    'says "hello" and \'bye\'',
    'key: value, and another: one',
    'CVE-2024-1234 # not a comment',
    '#leading hash',
    'first line\nsecond line\n\nfourth after a blank',
    'trailing newline\n',
    '   leading spaces',
    'trailing spaces   ',
    '\ttab first',
    'unicode: ünïcödé — 日本語 ✓ 🐳',
    'yes',
    'no',
    'on',
    '1.0',
    '0x1F',
    '1e3',
    'null',
    '~',
    '',
    '- x',
    '- [a, b]',
    '{a: 1}',
    '[1, 2]',
    '&anchor *alias',
    '!tag value',
    '%YAML 1.2',
    '---',
    '...',
    '? question',
    '| block',
    '> folded',
    '@at `backtick`',
    'back\\slash \\n not a newline',
    'x'.repeat(300),
  ];

  it.each(texts.map((t) => [JSON.stringify(t), t]))('description %s survives', (_, text) => {
    const written = metadataYaml({ ...base, description: text, author: text });
    const read = parseMetadata(written);
    expect(read.description).toBe(text);
    expect(read.author).toBe(text);
    expect(read.legacy).toBeUndefined();
    expect(read.unreadable).toBeUndefined();
  });

  it('every field comes back as written, numbers as numbers', () => {
    const read = parseMetadata(metadataYaml(base));
    expect(read).toEqual(base);
    expect(typeof read.exitStatus).toBe('number');
  });

  it('a long description stays on one line of YAML (lineWidth 0), not folded', () => {
    const long = Array.from({ length: 40 }, (_, i) => `word${i}`).join(' ');
    const written = metadataYaml({ ...base, description: long });
    expect(written.split('\n').filter((l) => l.startsWith('description:'))).toEqual([`description: ${long}`]);
  });
});

describe('parseMetadata of the original tool\'s two fields', () => {
  it('valid YAML two-field file: read and marked legacy', () => {
    const read = parseMetadata('author: "ops@example.org"\ndescription: "monthly OS update"\n');
    expect(read).toEqual({ author: 'ops@example.org', description: 'monthly OS update', legacy: true });
  });

  it('one field only is still legacy', () => {
    expect(parseMetadata('description: "just this"\n')).toEqual({ description: 'just this', legacy: true });
  });

  it('unescaped quotes inside the value (invalid YAML): text between the first and the last quote', () => {
    const text = 'author: "Jo "JJ" Smith <jo@example.org>"\ndescription: "fix the "openssl" CVE: see "notes""\n';
    // The premise: the yaml library refuses this file.
    expect(() => require('yaml').parse(text)).toThrow();
    expect(parseMetadata(text)).toEqual({ author: 'Jo "JJ" Smith <jo@example.org>', description: 'fix the "openssl" CVE: see "notes"', legacy: true });
  });

  it('unescaped quote in one field, the other fine; trailing spaces and CRLF-free', () => {
    const text = 'author: "ops@example.org"\ndescription: "say "hi"" \n';
    expect(parseMetadata(text)).toEqual({ author: 'ops@example.org', description: 'say "hi"', legacy: true });
  });

  it('an empty legacy description', () => {
    expect(parseMetadata('author: "a@b.c"\ndescription: ""\n')).toEqual({ author: 'a@b.c', description: '', legacy: true });
  });

  it('neither readable: unreadable with the start of the text, never a throw', () => {
    const junk = '{{{ not yaml\n' + 'z'.repeat(500);
    const read = parseMetadata(junk);
    expect(read.unreadable).toBe(junk.slice(0, 200));
    expect(read.author).toBeUndefined();
    expect(read.legacy).toBeUndefined();
  });

  it('a file of this tool is not legacy', () => {
    expect(parseMetadata(metadataYaml(base)).legacy).toBeUndefined();
  });
});
