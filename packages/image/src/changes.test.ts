import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { shellQuote } from '@imagewright/core';
import { dockerfileString, goDuration, importChanges, importCommand } from './changes';

// What bash makes of a command line: its words, one per line (printf), so quoting is checked by bash itself.
const bashWords = (line: string): string[] => {
  const r = spawnSync('bash', ['-c', `set -- ${line}; for w; do printf '%s\\0' "$w"; done`], { encoding: 'utf8' });
  expect(r.status).toBe(0);
  return r.stdout.split('\0').slice(0, -1);
};

describe('importChanges', () => {
  it('every metadata field, in Dockerfile order, ENTRYPOINT before CMD', () => {
    const { changes, notCarried } = importChanges(
      {
        Env: ['PATH=/bin', 'A=x "q" \'s $HOME \\b'],
        Entrypoint: ['tini', '-g', '--'],
        Cmd: ['start.sh', 'a b'],
        User: '1000:100',
        WorkingDir: '/home/a b',
        Labels: { 'org.x': 'v "1" $X', a: '' },
        ExposedPorts: { '8888/tcp': {}, '53/udp': {} },
        Volumes: { '/data': {}, '/d$x "q"': {} },
        StopSignal: 'SIGINT',
        OnBuild: ['RUN echo "$X"'],
        Healthcheck: { Test: ['CMD', 'curl', '-f', 'http://x/'], Interval: 30e9, Timeout: 1.5e9, StartPeriod: 60e9, Retries: 3 },
      },
      { stopSignal: true },
    );
    expect(notCarried).toEqual([]);
    expect(changes).toEqual([
      'ENV PATH=/bin',
      'ENV A="x \\"q\\" \'s \\$HOME \\\\b"',
      'ENTRYPOINT ["tini", "-g", "--"]',
      'CMD ["start.sh", "a b"]',
      'USER 1000:100',
      'WORKDIR "/home/a b"',
      'LABEL "a"=""',
      'LABEL "org.x"="v \\"1\\" \\$X"',
      'EXPOSE 53/udp',
      'EXPOSE 8888/tcp',
      'VOLUME ["/d\\\\$x \\\\\\"q\\\\\\"", "/data"]',
      'STOPSIGNAL SIGINT',
      'ONBUILD RUN echo "$X"',
      'HEALTHCHECK --interval=30s --timeout=1500ms --start-period=1m --retries=3 CMD ["curl", "-f", "http://x/"]',
    ]);
  });

  it('absent or null ENTRYPOINT/CMD are left out (never "None"); an empty list stays', () => {
    expect(importChanges({ Entrypoint: null, Cmd: null }).changes).toEqual([]);
    expect(importChanges({}).changes).toEqual([]);
    expect(importChanges({ Cmd: [] }).changes).toEqual(['CMD []']);
  });

  it('HEALTHCHECK NONE and the shell form; an empty test (inherit) is left out', () => {
    expect(importChanges({ Healthcheck: { Test: ['NONE'] } }).changes).toEqual(['HEALTHCHECK NONE']);
    expect(importChanges({ Healthcheck: { Test: ['CMD-SHELL', 'curl -f "$URL" || exit 1'], Retries: 2 } }).changes).toEqual([
      'HEALTHCHECK --retries=2 CMD curl -f "$URL" || exit 1',
    ]);
    expect(importChanges({ Healthcheck: { Test: [], Interval: 1e9 } }).changes).toEqual([]);
    expect(() => importChanges({ Healthcheck: { Test: ['CMD-SHELL', '["a"]'] } })).toThrow(/cannot be written back/);
  });

  it('what the Engine cannot take is named, not silently dropped', () => {
    const { changes, notCarried } = importChanges({ StopSignal: 'SIGINT', Healthcheck: { Test: ['NONE'] }, Shell: ['/bin/bash', '-c'] });
    expect(changes).toEqual(['HEALTHCHECK NONE']);
    expect(notCarried).toHaveLength(2);
    expect(notCarried[0]).toMatch(/^STOPSIGNAL SIGINT: /);
    expect(notCarried[1]).toMatch(/^SHELL /);
  });

  it('a newline outside a JSON string cannot be carried: exit 1 naming the field', () => {
    expect(() => importChanges({ Env: ['A=x\ny'] })).toThrow(/^ENV A: the value has a newline/);
    expect(() => importChanges({ Labels: { k: 'a\nb' } })).toThrow(/^LABEL k: /);
    // Inside JSON it travels as \n.
    expect(importChanges({ Cmd: ['a\nb'] }).changes).toEqual(['CMD ["a\\nb"]']);
    expect(() => importChanges({ Env: ['NOEQUALS'] })).toThrow(/not NAME=VALUE/);
  });
});

describe('quoting', () => {
  it('dockerfileString escapes backslash, double quote and $', () => {
    expect(dockerfileString('a\\b"c$d\'e')).toBe('"a\\\\b\\"c\\$d\'e"');
  });

  it('goDuration gives the largest exact unit', () => {
    expect([goDuration(30e9), goDuration(1.5e9), goDuration(90e9), goDuration(7200e9), goDuration(1500), goDuration(1)]).toEqual(['30s', '1500ms', '90s', '2h', '1500ns', '1ns']);
    expect(goDuration(2000)).toBe('2us');
  });

  it('bash reads every shell-quoted word back verbatim', () => {
    const nasty = ['plain', '', 'a b', "it's", 'say "hi"', '$HOME `id` $(id)', 'back\\slash\\', 'new\nline', "'", "''\\''", '!event', '*', '-'];
    expect(bashWords(nasty.map(shellQuote).join(' '))).toEqual(nasty);
  });

  it('importCommand: docker import, one --change word per change, then FILE', () => {
    const changes = ['ENV A="x \\"q\\" \'s"', 'CMD ["sh"]'];
    const line = importCommand(changes, 'my file.tar');
    expect(line.startsWith('docker import --change ')).toBe(true);
    expect(bashWords(line)).toEqual(['docker', 'import', '--change', changes[0], '--change', changes[1], 'my file.tar']);
    expect(importCommand([])).toBe('docker import -');
  });
});
