import { ImagewrightError } from '@imagewright/core';
import { thrown } from '@imagewright/testing';
import type { RunConfig } from '@imagewright/image';
import { describe, expect, it } from 'vitest';
import { checkAuthor, checkFileName, configDrift, KEPT_FIELDS } from './frame';

function usage(fn: () => unknown, ...mentions: string[]): void {
  const caught: unknown = thrown(fn);
  expect(caught).toBeInstanceOf(ImagewrightError);
  expect((caught as ImagewrightError).exitCode).toBe(2);
  expect((caught as Error).message).not.toContain('\n');
  for (const m of mentions) expect((caught as Error).message).toContain(m);
}

describe('checkAuthor', () => {
  it.each(['ops@example.org', 'a@b', 'first.last+tag@sub.example.co.uk', 'Ada Lovelace <ada@example.org>', "Seán O'Brien <sean@example.ie>", '日本 太郎 <taro@example.jp>', 'CI bot (nightly) <ci@example.org>'])(
    'accepts %s',
    (author) => {
      expect(() => checkAuthor(author)).not.toThrow();
    },
  );

  it.each([
    '',
    ' ',
    'ada',
    'Ada Lovelace',
    'ada@',
    '@example.org',
    'ada@@example.org',
    'a b@example.org',
    ' ada@example.org',
    'ada@example.org ',
    'ada@example.org\n',
    '<ada@example.org>',
    'Ada <ada@example.org',
    'Ada ada@example.org>',
    'Ada <ada@example.org> extra',
    'Ada<ada@example.org>',
    'Ada <not an email>',
    'Ada <a <b@c.d>>',
    'Ada\n <ada@example.org>',
  ])('refuses %j (usage error naming --author)', (author) => {
    usage(() => checkAuthor(author), '--author', JSON.stringify(author), 'allowed');
  });
});

describe('checkFileName', () => {
  it.each(['fix.sh', 'ca-bundle.pem', '.hidden', '...', 'with space.sh', 'pkg-1.0-py3-none-any.whl', 'ünï.sh', 'metadata.yml', 'patch.log.old'])('accepts %s', (name) => {
    expect(() => checkFileName(name, 'SCRIPT')).not.toThrow();
  });

  it.each(['', '.', '..', 'a/b', '../x', '../../etc/passwd', '/abs', 'dir/', './x', 'a\0b'])('refuses %j as not a plain name, naming the input', (name) => {
    usage(() => checkFileName(name, '--file'), '--file', JSON.stringify(name), 'plain file name');
  });

  it.each(['metadata.yaml', 'source-inspect.json', 'patch.log'])('refuses the record\'s own %s', (name) => {
    usage(() => checkFileName(name, 'SCRIPT'), 'SCRIPT', name, 'record');
  });
});

describe('configDrift', () => {
  const source: RunConfig = {
    User: 'app',
    WorkingDir: '/srv',
    Env: ['PATH=/usr/bin:/bin', 'LANG=C.UTF-8'],
    Entrypoint: ['/entrypoint.sh'],
    Cmd: ['serve', '--port', '80'],
    Labels: { 'org.opencontainers.image.title': 'app', maintainer: 'ops' },
    ExposedPorts: { '80/tcp': {}, '443/tcp': {} },
    Volumes: { '/data': {} },
    StopSignal: 'SIGTERM',
    Healthcheck: { Test: ['CMD', 'true'], Interval: 30_000_000_000, Retries: 3 },
  };
  const copy = (): RunConfig => JSON.parse(JSON.stringify(source));

  it('KEPT_FIELDS covers the run config a container of the image sees', () => {
    for (const f of ['Cmd', 'Entrypoint', 'User', 'WorkingDir', 'Env', 'Labels', 'ExposedPorts', 'Volumes', 'StopSignal', 'Healthcheck', 'OnBuild', 'Shell']) {
      expect(KEPT_FIELDS).toContain(f);
    }
  });

  it('an identical config: no drift', () => {
    expect(configDrift(source, copy())).toEqual([]);
  });

  it('null, [], {}, "" and absent are all the same', () => {
    const empties: unknown[] = [null, [], {}, '', undefined];
    for (const field of KEPT_FIELDS) {
      for (const a of empties) {
        for (const b of empties) {
          // Any field may hold any of these in an inspect or a config file.
          const left: Record<string, unknown> = {};
          const right: Record<string, unknown> = {};
          if (a !== undefined) left[field] = a;
          if (b !== undefined) right[field] = b;
          expect(configDrift(left, right), `${field}: ${JSON.stringify(a)} vs ${JSON.stringify(b)}`).toEqual([]);
        }
      }
    }
  });

  it('key order of objects does not matter (Labels, ExposedPorts, Healthcheck, the config itself)', () => {
    const reordered: RunConfig = {
      Healthcheck: { Retries: 3, Interval: 30_000_000_000, Test: ['CMD', 'true'] },
      Volumes: { '/data': {} },
      ExposedPorts: { '443/tcp': {}, '80/tcp': {} },
      Labels: { maintainer: 'ops', 'org.opencontainers.image.title': 'app' },
      StopSignal: 'SIGTERM',
      Cmd: ['serve', '--port', '80'],
      Entrypoint: ['/entrypoint.sh'],
      Env: ['PATH=/usr/bin:/bin', 'LANG=C.UTF-8'],
      WorkingDir: '/srv',
      User: 'app',
    };
    expect(configDrift(source, reordered)).toEqual([]);
  });

  it.each<[string, (c: RunConfig) => void, string[]]>([
    ['an Env value changed', (c) => (c.Env = ['PATH=/usr/bin:/bin', 'LANG=POSIX']), ['Env']],
    ['an Env entry added', (c) => c.Env!.push('DEBIAN_FRONTEND=noninteractive'), ['Env']],
    ['Env emptied', (c) => (c.Env = null), ['Env']],
    ['a label value changed', (c) => (c.Labels = { ...c.Labels, maintainer: 'someone else' }), ['Labels']],
    ['a label added', (c) => (c.Labels = { ...c.Labels, extra: '' }), ['Labels']],
    ['a label removed', (c) => (c.Labels = { maintainer: 'ops' }), ['Labels']],
    ['User root', (c) => (c.User = 'root'), ['User']],
    ['User dropped', (c) => delete c.User, ['User']],
    ['Cmd of a shell', (c) => (c.Cmd = ['/bin/sh']), ['Cmd']],
    ['Cmd argument order', (c) => (c.Cmd = ['--port', '80', 'serve']), ['Cmd']],
    ['Entrypoint removed', (c) => (c.Entrypoint = null), ['Entrypoint']],
    ['WorkingDir /', (c) => (c.WorkingDir = '/'), ['WorkingDir']],
    ['a port added', (c) => (c.ExposedPorts = { ...c.ExposedPorts, '8080/tcp': {} }), ['ExposedPorts']],
    ['a volume removed', (c) => (c.Volumes = null), ['Volumes']],
    ['StopSignal', (c) => (c.StopSignal = 'SIGKILL'), ['StopSignal']],
    ['Healthcheck interval', (c) => (c.Healthcheck = { ...c.Healthcheck, Interval: 1 }), ['Healthcheck']],
    ['OnBuild added', (c) => (c.OnBuild = ['RUN x']), ['OnBuild']],
    ['Shell set', (c) => (c.Shell = ['/bin/bash', '-c']), ['Shell']],
    ['User and Env and Labels together', (c) => Object.assign(c, { User: '', Env: [], Labels: {} }), ['User', 'Env', 'Labels']],
  ])('%s is reported', (_, change, fields) => {
    const result = copy();
    change(result);
    expect(configDrift(source, result).sort()).toEqual([...fields].sort());
    // Symmetric: the other way round is drift too.
    expect(configDrift(result, source).sort()).toEqual([...fields].sort());
  });

  it('fields outside KEPT_FIELDS (hostname, ArgsEscaped, Image) are not compared', () => {
    expect(configDrift({ ...source, Hostname: 'a', ArgsEscaped: true, Image: 'sha256:1' }, { ...copy(), Hostname: 'b', Image: 'sha256:2' })).toEqual([]);
  });
});
