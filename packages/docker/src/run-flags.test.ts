import { describe, expect, it } from 'vitest';
import {
  emptyRunFlags,
  mergeRunFlags,
  parseMount,
  parsePort,
  parseRunFlagArgs,
  parseRunFlags,
  parseVolume,
  ramInBytes,
  runFlagArity,
  splitRunPars,
  SUPPORTED_RUN_FLAGS,
  toCreateOptions,
} from './run-flags';
import { devRunFlags, INTERACTIVE_SHELL, refusalCode, shellFlags, DEV_LABEL } from './run';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { usageThrown } from '@imagewright/core/test-support';

const usage = (fn: () => unknown): string => usageThrown(fn).message;

/** The usage error a call throws: exit code 2 and its one line. */

const create = (text: string, cwd = '/work/dir') => toCreateOptions(parseRunFlags(text, { env: { FROM_ENV: 'env value' } }), { image: 'img:1', cmd: ['sh'], cwd });

describe('splitRunPars', () => {
  it('honours quotes and escapes', () => {
    expect(splitRunPars(`-e "A=x y" -e 'B=$1 "q"' -e C=a\\ b -e D=""`)).toEqual(['-e', 'A=x y', '-e', 'B=$1 "q"', '-e', 'C=a b', '-e', 'D=']);
  });
  it('expands no variables, unquoted or in double quotes', () => {
    expect(splitRunPars(`-e A=$HOME -e "B=\${USER}x" -e C=$ -e 'D=$x'`)).toEqual(['-e', 'A=$HOME', '-e', 'B=${USER}x', '-e', 'C=$', '-e', 'D=$x']);
  });
  it('keeps globs and a # inside a word literal', () => {
    expect(splitRunPars('-v *.txt:/x -e COLOR=#fff -e "N= #1"')).toEqual(['-v', '*.txt:/x', '-e', 'COLOR=#fff', '-e', 'N= #1']);
  });
  it('rejects shell operators and comments, naming them', () => {
    expect(usage(() => splitRunPars('--rm | tee x'))).toBe(
      'IMAGE_RUN_PARS: shell operator "|" is not allowed (docker-run flags only; quote it to pass it literally)',
    );
    expect(usage(() => splitRunPars('--rm; rm -rf /'))).toContain('";"');
    expect(usage(() => splitRunPars('--rm > out'))).toContain('">"');
    expect(usage(() => splitRunPars('--rm && x'))).toContain('"&&"');
    expect(usage(() => splitRunPars('-e A=$(id)'))).toContain('"("');
    expect(usage(() => splitRunPars('--rm #-p 80:80'))).toContain('"#-p 80:80" would be a comment');
  });
  it('names the input given', () => {
    expect(usage(() => splitRunPars('a | b', 'EXTRA'))).toMatch(/^EXTRA: /);
  });
  it('says a quote is unterminated (shell-quote alone dropped it: -e \'A=x gave A=x)', () => {
    expect(usage(() => splitRunPars(`--rm -e 'A=x`))).toBe(
      `IMAGE_RUN_PARS: unterminated ' quote at character 9 ("'A=x"): close it (allowed: docker-run flags with shell quoting)`,
    );
    expect(usage(() => parseRunFlags(`-e "A=x y`))).toMatch(/^IMAGE_RUN_PARS: unterminated " quote at character 4 /);
    expect(usage(() => parseRunFlags(`-e "A=\\"`))).toMatch(/unterminated " quote/);
    expect(usage(() => parseRunFlags(`-e A=x\\`))).toMatch(/ends with a lone backslash/);
    // Balanced quotes of either kind inside the other, and escaped ones, are fine.
    expect(splitRunPars(`-e "it's" -e 'say "hi"' -e a\\'b -e "q\\"q"`)).toEqual(['-e', "it's", '-e', 'say "hi"', '-e', "a'b", '-e', 'q"q']);
    // A quote inside a comment is the comment's problem.
    expect(usage(() => splitRunPars(`--rm #it's`))).toContain('would be a comment');
  });
});

describe('parseRunFlags', () => {
  it('reads the default IMAGE_RUN_PARS', () => {
    expect(parseRunFlags('--rm -e JUPYTER_ENABLE_LAB=yes')).toEqual({ ...emptyRunFlags(), rm: true, env: ['JUPYTER_ENABLE_LAB=yes'] });
  });

  it('reads every supported flag, long and short', () => {
    const flags = parseRunFlags(
      '--rm -e A=1 --env B=2 -p 8888:8888 --publish 127.0.0.1:9000:9000/udp -v /src:/dst:ro --volume vol:/data ' +
        '-l team=x --label flag -u 1000:100 -w /home/x --name box -i -t --entrypoint /bin/sh --network host ' +
        '-h myhost --privileged --init --platform linux/amd64',
    );
    expect(flags).toEqual({
      ...emptyRunFlags(),
      rm: true,
      env: ['A=1', 'B=2'],
      publish: [
        { hostIp: '', hostPort: '8888', containerPort: 8888, protocol: 'tcp' },
        { hostIp: '127.0.0.1', hostPort: '9000', containerPort: 9000, protocol: 'udp' },
      ],
      volumes: [
        { kind: 'bind', source: '/src', target: '/dst', options: ['ro'] },
        { kind: 'volume', source: 'vol', target: '/data', options: [] },
      ],
      labels: { team: 'x', flag: '' },
      user: '1000:100',
      workdir: '/home/x',
      name: 'box',
      interactive: true,
      tty: true,
      entrypoint: '/bin/sh',
      network: 'host',
      hostname: 'myhost',
      privileged: true,
      init: true,
      platform: 'linux/amd64',
    });
  });

  it('reads long forms with =value and the other long names', () => {
    const flags = parseRunFlags('--env=A=1 --publish=80:80 --volume=/a:/b --user=root --workdir=/w --name=n1 --hostname=h --net=none --interactive --tty --entrypoint= --label=a=b');
    expect(flags.env).toEqual(['A=1']);
    expect(flags.publish).toHaveLength(1);
    expect(flags.volumes[0]).toMatchObject({ source: '/a', target: '/b' });
    expect(flags).toMatchObject({ user: 'root', workdir: '/w', name: 'n1', hostname: 'h', network: 'none', interactive: true, tty: true, entrypoint: '', labels: { a: 'b' } });
  });

  it('reads combined and attached short flags as docker does', () => {
    expect(parseRunFlags('-it')).toMatchObject({ interactive: true, tty: true });
    expect(parseRunFlags('-ti')).toMatchObject({ interactive: true, tty: true });
    expect(parseRunFlags('-ite K=V')).toMatchObject({ interactive: true, tty: true, env: ['K=V'] });
    expect(parseRunFlags('-eK=V -e=L=W -p8888:8888 -u0 -w/x')).toMatchObject({
      env: ['K=V', 'L=W'],
      publish: [{ hostPort: '8888', containerPort: 8888 }],
      user: '0',
      workdir: '/x',
    });
    expect(parseRunFlags('-itp 80:80').publish).toHaveLength(1);
  });

  it('takes boolean values with =', () => {
    expect(parseRunFlags('--rm --rm=false').rm).toBe(false);
    expect(parseRunFlags('--tty=true -i=1').tty).toBe(true);
    expect(parseRunFlags('--tty=true -i=1').interactive).toBe(true);
    expect(usage(() => parseRunFlags('--rm=yes'))).toBe('IMAGE_RUN_PARS: --rm=yes is invalid: allowed --rm, --rm=true or --rm=false');
  });

  it('repeats -e, -p and -v', () => {
    const flags = parseRunFlags('-e A=1 -e A=2 -e B= -p 1:1 -p 2:2 -p 3 -v /a:/a -v /b:/b -v /c');
    expect(flags.env).toEqual(['A=1', 'A=2', 'B=']);
    expect(flags.publish.map((p) => p.containerPort)).toEqual([1, 2, 3]);
    expect(flags.volumes.map((v) => v.target)).toEqual(['/a', '/b', '/c']);
  });

  it('takes -e NAME from the given environment, and sends NAME alone when unset (as docker)', () => {
    expect(parseRunFlags('-e HOME_X -e MISSING -e EMPTY', { env: { HOME_X: '/h', EMPTY: '' } }).env).toEqual(['HOME_X=/h', 'MISSING', 'EMPTY=']);
    expect(parseRunFlags('-e HOME_X').env).toEqual(['HOME_X']);
  });

  it('keeps quoted values whole', () => {
    expect(parseRunFlags(`-e "MSG=hello  world" -v '/my dir:/data'`)).toMatchObject({
      env: ['MSG=hello  world'],
      volumes: [{ source: '/my dir', target: '/data' }],
    });
  });

  it('names an unsupported flag and lists the supported ones', () => {
    const message = usage(() => parseRunFlags('--rm --cpu-shares 2'));
    expect(message).toBe(`IMAGE_RUN_PARS: --cpu-shares is not supported (supported: ${SUPPORTED_RUN_FLAGS.join(', ')})`);
    expect(message).toContain('--rm, -e/--env, --env-file, -p/--publish, -v/--volume, --mount');
    expect(message).toContain('--gpus');
    expect(usage(() => parseRunFlags('--cpu-shares=2'))).toMatch(/^IMAGE_RUN_PARS: --cpu-shares is not supported/);
    expect(usage(() => parseRunFlags('-d'))).toMatch(/^IMAGE_RUN_PARS: -d is not supported/);
    expect(usage(() => parseRunFlags('-itd'))).toMatch(/^IMAGE_RUN_PARS: -d is not supported/);
    expect(usage(() => parseRunFlags('--'))).toMatch(/^IMAGE_RUN_PARS: -- is not supported/);
  });

  it('rejects a positional word and a missing value', () => {
    expect(usage(() => parseRunFlags('--rm myimage'))).toBe(
      'IMAGE_RUN_PARS: unexpected argument "myimage": allowed docker-run flags only (the image and command are given by the command)',
    );
    expect(usage(() => parseRunFlags('--rm -e'))).toBe('IMAGE_RUN_PARS: -e needs a value');
    expect(usage(() => parseRunFlags('--name'))).toBe('IMAGE_RUN_PARS: --name needs a value');
  });

  it('rejects invalid values, naming them', () => {
    expect(usage(() => parseRunFlags('-p 99999:80'))).toMatch(/^IMAGE_RUN_PARS: -p "99999:80" is invalid: allowed \[IP:\]\[HOST_PORT:\]CONTAINER_PORT/);
    expect(usage(() => parseRunFlags('--publish=abc'))).toMatch(/^IMAGE_RUN_PARS: --publish "abc" is invalid/);
    expect(usage(() => parseRunFlags('-v relative'))).toMatch(/^IMAGE_RUN_PARS: -v "relative" is invalid: allowed SOURCE:TARGET/);
    expect(usage(() => parseRunFlags('-v /a:b'))).toMatch(/-v "\/a:b" is invalid/);
    expect(usage(() => parseRunFlags('-w tmp'))).toBe('IMAGE_RUN_PARS: -w "tmp" is invalid: allowed an absolute path in the container');
    expect(usage(() => parseRunFlags('--name "a b"'))).toMatch(/--name "a b" is invalid/);
    expect(usage(() => parseRunFlags('-u ""'))).toMatch(/-u "" is invalid/);
    expect(usage(() => parseRunFlags('-e =x'))).toMatch(/-e "=x" is invalid: allowed NAME=VALUE or NAME/);
    expect(usage(() => parseRunFlags('--platform "linux amd64"'))).toMatch(/--platform "linux amd64" is invalid/);
    expect(usage(() => parseRunFlags('-h "-bad"'))).toMatch(/-h "-bad" is invalid/);
  });
});

describe('parsePort', () => {
  it('reads the forms docker accepts', () => {
    expect(parsePort('8888')).toEqual([{ hostIp: '', hostPort: '', containerPort: 8888, protocol: 'tcp' }]);
    expect(parsePort('8080:80')).toEqual([{ hostIp: '', hostPort: '8080', containerPort: 80, protocol: 'tcp' }]);
    expect(parsePort('127.0.0.1::80/udp')).toEqual([{ hostIp: '127.0.0.1', hostPort: '', containerPort: 80, protocol: 'udp' }]);
    expect(parsePort('[::1]:8080:80/sctp')).toEqual([{ hostIp: '::1', hostPort: '8080', containerPort: 80, protocol: 'sctp' }]);
  });
  it('expands ranges', () => {
    expect(parsePort('9000-9001:8000-8001').map((p) => [p.hostPort, p.containerPort])).toEqual([
      ['9000', 8000],
      ['9001', 8001],
    ]);
    expect(parsePort('8000-8001').map((p) => [p.hostPort, p.containerPort])).toEqual([
      ['', 8000],
      ['', 8001],
    ]);
    // A host range for one container port: the Engine picks one of them.
    expect(parsePort('9000-9010:80')).toEqual([{ hostIp: '', hostPort: '9000-9010', containerPort: 80, protocol: 'tcp' }]);
  });
  it('rejects bad specs with the spec in the message', () => {
    for (const bad of ['', '0', '65536', '80:', 'a:80', '80/icmp', '1.2.3:80:80', '1:2:3:4', '9000-9002:8000-8001', '90-80', 'localhost:80:80']) {
      expect(usage(() => parsePort(bad)), bad).toContain(`-p ${JSON.stringify(bad)} is invalid`);
    }
  });
});

describe('parseVolume', () => {
  it('reads binds, named and anonymous volumes and options', () => {
    expect(parseVolume('/host:/ctr')).toEqual({ kind: 'bind', source: '/host', target: '/ctr', options: [] });
    expect(parseVolume('./rel:/ctr:ro')).toEqual({ kind: 'bind', source: './rel', target: '/ctr', options: ['ro'] });
    expect(parseVolume('./sub/dir:/ctr:rw,z')).toEqual({ kind: 'bind', source: './sub/dir', target: '/ctr', options: ['rw', 'z'] });
    expect(parseVolume('../up:/ctr')).toMatchObject({ kind: 'bind', source: '../up' });
    expect(parseVolume('cache:/ctr:nocopy')).toEqual({ kind: 'volume', source: 'cache', target: '/ctr', options: ['nocopy'] });
    expect(parseVolume('/data')).toEqual({ kind: 'anonymous', target: '/data', options: [] });
  });
  it('rejects bad specs with the spec in the message', () => {
    for (const bad of ['', 'rel', '/', '/a:rel', '/a:/', '/a:/b:xx', '/a:/b:ro,rw', '/a:/b:ro:x', 'v:/b:', '~/x:/y', 'x:/y', 'bad$name:/y', 'sub/dir:/y']) {
      expect(usage(() => parseVolume(bad)), bad).toContain(`-v ${JSON.stringify(bad)} is invalid`);
    }
    expect(usage(() => parseVolume('~/x:/y'))).toContain('~ is not expanded');
    // docker takes sub/dir for a volume name, which the Engine refuses.
    expect(usage(() => parseVolume('sub/dir:/y'))).toContain('a relative host path starts with ./');
  });
});

describe('toCreateOptions', () => {
  it('sends only the image and command when no flag is set', () => {
    expect(toCreateOptions(emptyRunFlags(), { image: 'img:1', cmd: ['a', 'b c'] })).toEqual({
      Image: 'img:1',
      Cmd: ['a', 'b c'],
      AttachStdout: true,
      AttachStderr: true,
      HostConfig: {},
    });
    // No command: the image's CMD.
    expect(toCreateOptions(emptyRunFlags(), { image: 'img:1', cmd: [] }).Cmd).toBeUndefined();
  });

  it('translates every flag as docker run would', () => {
    const options = create(
      '--rm -e A=1 -e FROM_ENV -p 8888:8888 -p 127.0.0.1:9000:9000/udp -p 8889:8888 -v /src:/dst:ro -v ./rel:/rel -v vol:/vol -v /anon ' +
        '-l k=v -u 0:0 -w /tmp --name n1 -it --entrypoint /bin/sh --network host -h hn --privileged --init --platform linux/amd64',
    );
    expect(options).toEqual({
      Image: 'img:1',
      Cmd: ['sh'],
      AttachStdout: true,
      AttachStderr: true,
      AttachStdin: true,
      OpenStdin: true,
      StdinOnce: true,
      Tty: true,
      Env: ['A=1', 'FROM_ENV=env value'],
      Labels: { k: 'v' },
      User: '0:0',
      WorkingDir: '/tmp',
      name: 'n1',
      Hostname: 'hn',
      Entrypoint: ['/bin/sh'],
      platform: 'linux/amd64',
      ExposedPorts: { '8888/tcp': {}, '9000/udp': {} },
      Volumes: { '/anon': {} },
      HostConfig: {
        AutoRemove: true,
        PortBindings: {
          '8888/tcp': [
            { HostIp: '', HostPort: '8888' },
            { HostIp: '', HostPort: '8889' },
          ],
          '9000/udp': [{ HostIp: '127.0.0.1', HostPort: '9000' }],
        },
        Binds: ['/src:/dst:ro', '/work/dir/rel:/rel', 'vol:/vol'],
        NetworkMode: 'host',
        Privileged: true,
        Init: true,
      },
    });
  });

  it('resolves ./relative bind sources against the cwd given, and keeps absolute ones as written', () => {
    expect(create('-v ../up:/a -v ./sub/x/:/b -v .:/c -v /abs/./x/:/d', '/base/dir').HostConfig?.Binds).toEqual([
      '/base/up:/a',
      '/base/dir/sub/x:/b',
      '/base/dir:/c',
      '/abs/./x/:/d',
    ]);
    expect(create('--mount type=bind,src=./m,dst=/m --mount type=bind,src=/abs,dst=/n', '/base').HostConfig?.Mounts?.map((m) => m.Source)).toEqual(['/base/m', '/abs']);
  });

  it('resolves against the current directory by default, as docker run (never a fixed folder)', () => {
    const options = toCreateOptions(parseRunFlags('-v ./x:/x --mount type=bind,src=./y,dst=/y'), { image: 'i' });
    expect(options.HostConfig?.Binds).toEqual([`${process.cwd()}/x:/x`]);
    expect(options.HostConfig?.Mounts?.[0].Source).toBe(`${process.cwd()}/y`);
  });

  it("resets the image's entrypoint with --entrypoint ''", () => {
    expect(create(`--entrypoint ''`).Entrypoint).toEqual(['']);
  });
});

describe('mergeRunFlags and the shell presets', () => {
  it('appends lists and replaces single values', () => {
    const merged = mergeRunFlags(parseRunFlags('--rm -e A=1 -u 1000 -l a=1'), { env: ['B=2'], user: '0:0', labels: { b: '2' } });
    expect(merged).toMatchObject({ rm: true, env: ['A=1', 'B=2'], user: '0:0', labels: { a: '1', b: '2' } });
  });

  it('adds -i always and -t only for a terminal; root is -u 0:0', () => {
    const base = parseRunFlags('--rm -u 65534');
    expect(shellFlags(base, false)).toMatchObject({ rm: true, interactive: true, tty: false, user: '65534' });
    expect(shellFlags(base, true)).toMatchObject({ interactive: true, tty: true });
    expect(shellFlags(base, false, { root: true }).user).toBe('0:0');
    expect(INTERACTIVE_SHELL.slice(0, 2)).toEqual(['/bin/sh', '-c']);
    expect(INTERACTIVE_SHELL[2]).toContain('bash --rcfile /etc/bash.bashrc');
  });

  it('mounts the dev sources that exist, each environment entry on its own, without --rm', () => {
    const root = mkdtempSync(join(tmpdir(), 'imagewright-devflags-'));
    const COMMON_DIR = join(root, 'common');
    const IMAGE_DIR = join(root, 'dep');
    mkdirSync(join(COMMON_DIR, 'common-scripts'), { recursive: true });
    for (const dir of ['science', 'tools', 'frozen']) mkdirSync(join(IMAGE_DIR, 'environments', dir), { recursive: true });
    const config = { COMMON_DIR, IMAGE_DIR, DEPLOYMENT_NAME: 'dep' };
    const flags = devRunFlags(config, false);
    expect(flags).toMatchObject({ rm: false, interactive: true, tty: false, env: ['JH_DEVELOP=1'], labels: { [DEV_LABEL]: 'dep' } });
    const host = toCreateOptions(flags, { image: 'i' }).HostConfig!;
    // Nothing over /opt/environments itself: the image's own entries there (test) stay visible.
    expect(host.Mounts).toEqual([
      { Type: 'bind', Source: `${COMMON_DIR}/common-scripts`, Target: '/opt/common-scripts' },
      { Type: 'bind', Source: `${IMAGE_DIR}/environments/frozen`, Target: '/opt/environments/frozen' },
      { Type: 'bind', Source: `${IMAGE_DIR}/environments/science`, Target: '/opt/environments/science' },
      { Type: 'bind', Source: `${IMAGE_DIR}/environments/tools`, Target: '/opt/environments/tools' },
    ]);
    // Mounts, never -v binds: the Engine would create a vanished source in the checkout.
    expect(host.Binds).toBeUndefined();
    mkdirSync(join(COMMON_DIR, 'common-env'));
    expect(devRunFlags(config, true).mounts.map((m) => m.Target).slice(0, 2)).toEqual(['/opt/common-scripts', '/opt/common-env']);
    expect(devRunFlags(config, true).tty).toBe(true);
    expect(usage(() => devRunFlags({ ...config, IMAGE_DIR: join(root, 'nope') }, false))).toContain('environments: missing');
    expect(usage(() => devRunFlags({ ...config, COMMON_DIR: join(root, 'nope') }, false))).toContain('common-scripts: missing');
  });

  it('adds the command-line flags given to image-dev', () => {
    const root = mkdtempSync(join(tmpdir(), 'imagewright-devflags-'));
    mkdirSync(join(root, 'common', 'common-scripts'), { recursive: true });
    mkdirSync(join(root, 'dep', 'environments'), { recursive: true });
    const config = { COMMON_DIR: join(root, 'common'), IMAGE_DIR: join(root, 'dep'), DEPLOYMENT_NAME: 'dep' };
    const flags = devRunFlags(config, false, parseRunFlagArgs(['-e', 'A=1', '--gpus', 'all', '-l', 'x=y', '--name', 'dev1']));
    expect(flags).toMatchObject({ env: ['A=1', 'JH_DEVELOP=1'], labels: { x: 'y', [DEV_LABEL]: 'dep' }, name: 'dev1', rm: false, interactive: true });
    expect(flags.gpus).toHaveLength(1);
  });
});

describe('runFlagArity', () => {
  it('counts the words a flag word takes, as docker reads it', () => {
    const cases: [string, 0 | 1][] = [
      ['-e', 1],
      ['-e=X', 0],
      ['--env=X', 0],
      ['-eFOO', 0],
      ['--env', 1],
      ['-it', 0],
      ['-ti', 0],
      ['-ie', 1],
      ['-ieA=1', 0],
      ['-i=true', 0],
      ['--rm', 0],
      ['--rm=false', 0],
      ['--gpus', 1],
      ['--gpus=all', 0],
      ['-h', 1],
      ['--hostname', 1],
      ['-m', 1],
      ['-m1g', 0],
      ['--shm-size', 1],
      ['--env-file', 1],
      ['--mount', 1],
      ['--pull', 1],
      ['--privileged', 0],
      ['--net', 1],
    ];
    for (const [word, words] of cases) expect(runFlagArity(word), word).toBe(words);
  });

  it('agrees with the parser on every word: a flag of arity 1 without its word needs a value', () => {
    const values: Record<string, string> = { e: 'A=1', env: 'A=1', gpus: 'all', h: 'host', hostname: 'host', m: '1g', 'shm-size': '1g', mount: 'type=tmpfs,dst=/t', pull: 'never', net: 'none' };
    for (const word of ['-e', '--env', '-ie', '--gpus', '-h', '--hostname', '-m', '--shm-size', '--mount', '--pull', '--net', '-it', '--rm', '-eA=1', '--gpus=all']) {
      const name = word.replace(/^-+i?/, '').replace(/=.*/, '') || 'e';
      if (runFlagArity(word) === 1) {
        expect(usage(() => parseRunFlagArgs([word])), word).toMatch(/needs a value$/);
        expect(() => parseRunFlagArgs([word, values[name]]), word).not.toThrow();
      } else {
        expect(() => parseRunFlagArgs([word]), word).not.toThrow();
        expect(usage(() => parseRunFlagArgs([word, 'cmd'])), word).toMatch(/unexpected argument "cmd"/);
      }
    }
  });

  it("throws the parser's own error for an unsupported flag, naming the source", () => {
    expect(usage(() => runFlagArity('--cpu-shares'))).toBe(usage(() => parseRunFlagArgs(['--cpu-shares'], { source: 'command line' })));
    expect(usage(() => runFlagArity('-d'))).toMatch(/^command line: -d is not supported \(supported: /);
    expect(usage(() => runFlagArity('-itd', 'IMAGE_RUN_PARS'))).toMatch(/^IMAGE_RUN_PARS: -d is not supported/);
    expect(usage(() => runFlagArity('python3'))).toMatch(/^command line: unexpected argument "python3"/);
  });

  it('names the source given to parseRunFlagArgs in every error', () => {
    const source = 'command line';
    expect(usage(() => parseRunFlagArgs(['--gpus', 'bogus'], { source }))).toMatch(/^command line: --gpus "bogus" is invalid: invalid count \(bogus\)/);
    expect(usage(() => parseRunFlagArgs(['--memory'], { source }))).toBe('command line: --memory needs a value');
    expect(usage(() => parseRunFlagArgs(['--nope'], { source }))).toMatch(/^command line: --nope is not supported/);
  });
});

describe('ramInBytes (go-units RAMInBytes)', () => {
  const KiB = 1024;
  const MiB = KiB * 1024;
  const GiB = MiB * 1024;
  const TiB = GiB * 1024;
  it("reads go-units' own test table", () => {
    const ok: [string, number][] = [
      ['32', 32],
      ['32b', 32],
      ['32B', 32],
      ['32k', 32 * KiB],
      ['32K', 32 * KiB],
      ['32kb', 32 * KiB],
      ['32Kb', 32 * KiB],
      ['32Kib', 32 * KiB],
      ['32KIB', 32 * KiB],
      ['32Mb', 32 * MiB],
      ['32Gb', 32 * GiB],
      ['32Tb', 32 * TiB],
      ['32.3', 32],
      ['32.3 mb', Math.trunc(32.3 * MiB)],
      ['0.3MB', Math.trunc(0.3 * MiB)],
      ['1.5g', 1.5 * GiB],
      ['64m', 64 * MiB],
    ];
    for (const [text, bytes] of ok) expect(ramInBytes(text), text).toBe(bytes);
    for (const text of ['', 'hello', '-32', ' 32 ', '32m b', '32bm', '32x', '1gb2', 'm', '32kibb']) expect(ramInBytes(text), text).toBeUndefined();
    // Above 2^53 bytes a JSON number would not carry the value exactly: refused (go-units takes 32P).
    expect(ramInBytes('32P')).toBeUndefined();
  });
});

describe('the run family flags (issue 8)', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'imagewright-runflags-'));
  const host = (text: string, env: NodeJS.ProcessEnv = {}) => toCreateOptions(parseRunFlags(text, { env, cwd: tmp }), { image: 'i', cwd: tmp }).HostConfig!;

  it('--gpus: docker csv grammar to DeviceRequests', () => {
    const gpu = (count: number, ids: string[] | null = null, caps = [['gpu']], driver = '', options = {}) => ({ Driver: driver, Count: count, DeviceIDs: ids, Capabilities: caps, Options: options });
    expect(host('--gpus all').DeviceRequests).toEqual([gpu(-1)]);
    expect(host('--gpus 2 --gpus=count=all').DeviceRequests).toEqual([gpu(2), gpu(-1)]);
    expect(host(`--gpus '"device=0,1"'`).DeviceRequests).toEqual([gpu(0, ['0', '1'])]);
    // Unquoted, the csv reader splits device=0,1: the 1 becomes a count, as with the docker CLI.
    expect(host('--gpus device=0,1').DeviceRequests).toEqual([gpu(1, ['0'])]);
    expect(host('--gpus device=GPU-3a2b').DeviceRequests).toEqual([gpu(0, ['GPU-3a2b'])]);
    expect(host(`--gpus '"capabilities=compute,utility",driver=nvidia,count=1'`).DeviceRequests).toEqual([gpu(1, null, [['compute', 'utility', 'gpu']], 'nvidia')]);
    expect(host(`--gpus 'all,"options=a=b,c"'`).DeviceRequests).toEqual([gpu(-1, null, [['gpu']], '', { a: 'b', c: '' })]);
    expect(usage(() => parseRunFlags('--gpus two'))).toMatch(/^IMAGE_RUN_PARS: --gpus "two" is invalid: invalid count \(two\): value must be either "all" or an integer; allowed all/);
    expect(usage(() => parseRunFlags('--gpus count=1,count=2'))).toContain("gpu request key 'count' can be specified only once");
    expect(usage(() => parseRunFlags('--gpus 2,count=1'))).toContain("gpu request key 'count' can be specified only once");
    // Two bare counts are two keys to the CLI: the last one counts.
    expect(host('--gpus all,2').DeviceRequests?.[0].Count).toBe(2);
    expect(usage(() => parseRunFlags('--gpus vendor=x'))).toContain("unexpected key 'vendor'");
    expect(usage(() => parseRunFlags(`--gpus 'device="0,1"'`))).toContain('bare " in non-quoted field');
    expect(usage(() => parseRunFlags(`--gpus '"device=0'`))).toContain('extraneous or missing " in quoted-field');
    expect(usage(() => parseRunFlags(`--gpus ''`))).toContain('--gpus "" is invalid');
  });

  it('--shm-size, --memory/-m, --memory-swap, --cpus', () => {
    expect(host('--shm-size 1g -m 512M --memory-swap 1.5g --cpus 1.5')).toMatchObject({ ShmSize: 2 ** 30, Memory: 512 * 2 ** 20, MemorySwap: 1.5 * 2 ** 30, NanoCpus: 1_500_000_000 });
    expect(host('--shm-size=64k --memory=100 --memory-swap=-1 --cpus=0.001')).toMatchObject({ ShmSize: 65536, Memory: 100, MemorySwap: -1, NanoCpus: 1_000_000 });
    expect(host('-m1GiB --cpus 3/2 --cpus 2').NanoCpus).toBe(2_000_000_000);
    expect(host('--cpus 1.5e1').NanoCpus).toBe(15_000_000_000);
    expect(usage(() => parseRunFlags('--shm-size 1x'))).toBe(
      'IMAGE_RUN_PARS: --shm-size "1x" is invalid: allowed a size: a number with an optional unit b, k, m, g, t, p (case-insensitive, powers of 1024), e.g. 512m or 2g',
    );
    expect(usage(() => parseRunFlags('-m -1'))).toMatch(/^IMAGE_RUN_PARS: -m "-1" is invalid: allowed a size/);
    expect(usage(() => parseRunFlags('--memory-swap -2'))).toMatch(/or -1 for unlimited swap$/);
    expect(usage(() => parseRunFlags('--cpus 0.0000000001'))).toMatch(/--cpus "0.0000000001" is invalid: value is too precise/);
    expect(usage(() => parseRunFlags('--cpus two'))).toMatch(/--cpus "two" is invalid: allowed a number of CPUs/);
    expect(usage(() => parseRunFlags('--cpus -1'))).toMatch(/--cpus "-1" is invalid/);
  });

  it('--env-file: docker format, relative to the cwd, before every -e', () => {
    writeFileSync(join(tmp, 'vars.env'), '\uFEFF# comment\n\n   A=1\nB= spaced \r\nFROM_ENV\nUNSET_HERE\nC="quoted"\n#D=no\nE=a=b');
    writeFileSync(join(tmp, 'more.env'), 'A=2\n');
    const options = toCreateOptions(parseRunFlags('-e A=last --env-file vars.env --env-file=more.env', { env: { FROM_ENV: 'x y' }, cwd: tmp }), { image: 'i' });
    expect(options.Env).toEqual(['A=1', 'B= spaced ', 'FROM_ENV=x y', 'C="quoted"', 'E=a=b', 'A=2', 'A=last']);
    expect(usage(() => parseRunFlags('--env-file nosuch.env', { cwd: tmp }))).toBe(
      `IMAGE_RUN_PARS: --env-file "nosuch.env" is invalid: cannot read ${tmp}/nosuch.env (no such file); allowed a readable file of NAME=VALUE lines (# comments, blank lines)`,
    );
    writeFileSync(join(tmp, 'bad.env'), 'OK=1\nBAD NAME=2\n');
    expect(usage(() => parseRunFlags('--env-file bad.env', { cwd: tmp }))).toContain("bad.env line 2: variable 'BAD NAME' contains whitespace");
    writeFileSync(join(tmp, 'noname.env'), '=x\n');
    expect(usage(() => parseRunFlags('--env-file noname.env', { cwd: tmp }))).toContain('line 1 has no variable name');
    writeFileSync(join(tmp, 'latin1.env'), Buffer.from([0x41, 0x3d, 0xe9, 0x0a]));
    expect(usage(() => parseRunFlags('--env-file latin1.env', { cwd: tmp }))).toContain('is not valid UTF-8');
  });

  it('--ulimit: the last of a name wins, sorted by name', () => {
    expect(host('--ulimit nofile=1024:2048 --ulimit nproc=10 --ulimit core=-1 --ulimit nofile=5').Ulimits).toEqual([
      { Name: 'core', Soft: -1, Hard: -1 },
      { Name: 'nofile', Soft: 5, Hard: 5 },
      { Name: 'nproc', Soft: 10, Hard: 10 },
    ]);
    expect(host('--ulimit memlock=-1:-1 --ulimit stack=1:-1').Ulimits).toEqual([
      { Name: 'memlock', Soft: -1, Hard: -1 },
      { Name: 'stack', Soft: 1, Hard: -1 },
    ]);
    for (const bad of ['nofile', 'as=1', 'nofile=a', 'nofile=1:2:3', 'nofile=3:2', 'nofile=-1:5']) {
      expect(usage(() => parseRunFlags(`--ulimit ${bad}`)), bad).toContain(`--ulimit ${JSON.stringify(bad)} is invalid`);
    }
  });

  it('--cap-add/--cap-drop: normalised as the docker client sends them', () => {
    expect(host('--cap-add net_admin --cap-add SYS_PTRACE --cap-add CAP_NET_ADMIN --cap-drop all --cap-drop=mknod')).toMatchObject({
      CapAdd: ['CAP_NET_ADMIN', 'CAP_SYS_PTRACE'],
      CapDrop: ['ALL', 'CAP_MKNOD'],
    });
    expect(usage(() => parseRunFlags('--cap-add "NET ADMIN"'))).toMatch(/--cap-add "NET ADMIN" is invalid: allowed a capability name/);
  });

  it('--device: paths and permissions, and CDI names as a cdi device request', () => {
    expect(host('--device /dev/null --device /dev/zero:/dev/z:r --device /dev/full:rw --device /dev/fuse/ --device /dev/a:/dev/b/').Devices).toEqual([
      { PathOnHost: '/dev/null', PathInContainer: '/dev/null', CgroupPermissions: 'rwm' },
      { PathOnHost: '/dev/zero', PathInContainer: '/dev/z', CgroupPermissions: 'r' },
      { PathOnHost: '/dev/full', PathInContainer: '/dev/full', CgroupPermissions: 'rw' },
      { PathOnHost: '/dev/fuse', PathInContainer: '/dev/fuse', CgroupPermissions: 'rwm' },
      { PathOnHost: '/dev/a', PathInContainer: '/dev/b', CgroupPermissions: 'rwm' },
    ]);
    expect(host('--gpus 1 --device nvidia.com/gpu=all --device vendor.example/class=dev0').DeviceRequests).toEqual([
      { Driver: '', Count: 1, DeviceIDs: null, Capabilities: [['gpu']], Options: {} },
      { Driver: 'cdi', Count: 0, DeviceIDs: ['nvidia.com/gpu=all', 'vendor.example/class=dev0'], Capabilities: null, Options: null },
    ]);
    for (const bad of ['dev/null', '/a:/b:x', '/a:/b:rw:x', ':/b', '/a:rr', '/a:b']) {
      expect(usage(() => parseRunFlags(`--device ${bad}`)), bad).toContain(`--device ${JSON.stringify(bad)} is invalid`);
    }
  });

  it('--ipc, --add-host, --group-add, --tmpfs, --pull', () => {
    expect(host('--ipc host').IpcMode).toBe('host');
    expect(host('--ipc container:other').IpcMode).toBe('container:other');
    expect(usage(() => parseRunFlags('--ipc hots'))).toBe('IMAGE_RUN_PARS: --ipc "hots" is invalid: allowed none, private, shareable, host or container:NAME');
    expect(host('--add-host a:1.2.3.4 --add-host b=::1 --add-host c:[::2] --add-host d:host-gateway --add-host e:::ffff:1.2.3.4').ExtraHosts).toEqual([
      'a:1.2.3.4',
      'b:::1',
      'c:::2',
      'd:host-gateway',
      'e:::ffff:1.2.3.4',
    ]);
    for (const bad of ['a', 'a:', ':1.2.3.4', 'a:300.1.1.1', 'a:b:c', 'a:fe80::1%eth0', 'a:localhost']) {
      expect(usage(() => parseRunFlags(`--add-host ${bad}`)), bad).toContain(`--add-host ${JSON.stringify(bad)} is invalid: allowed HOST:IP`);
    }
    expect(host('--group-add audio --group-add 100').GroupAdd).toEqual(['audio', '100']);
    expect(host('--tmpfs /run --tmpfs /scratch:rw,size=1g,mode=1777 --tmpfs /run:size=1m').Tmpfs).toEqual({ '/run': 'size=1m', '/scratch': 'rw,size=1g,mode=1777' });
    expect(usage(() => parseRunFlags('--tmpfs scratch'))).toMatch(/--tmpfs "scratch" is invalid: allowed PATH\[:OPTIONS\]/);
    expect(parseRunFlags('--pull always').pull).toBe('always');
    expect(parseRunFlags('--pull=never --pull missing').pull).toBe('missing');
    expect(parseRunFlags('').pull).toBeUndefined();
    expect(usage(() => parseRunFlags('--pull sometimes'))).toBe('IMAGE_RUN_PARS: --pull "sometimes" is invalid: allowed missing (the default), always or never');
  });

  it('--security-opt: a seccomp profile file is sent as compact JSON; systempaths=unconfined as empty path lists', () => {
    writeFileSync(join(tmp, 'profile.json'), '{\n  "defaultAction": "SCMP_ACT_ALLOW",\n  "names": [ "a b", "c\\"d" ]\n}\n');
    const h = host('--security-opt no-new-privileges --security-opt label=disable --security-opt apparmor:unconfined --security-opt seccomp=profile.json --security-opt seccomp=unconfined');
    expect(h.SecurityOpt).toEqual(['no-new-privileges', 'label=disable', 'apparmor:unconfined', 'seccomp={"defaultAction":"SCMP_ACT_ALLOW","names":["a b","c\\"d"]}', 'seccomp=unconfined']);
    expect(host('--security-opt systempaths=unconfined')).toMatchObject({ MaskedPaths: [], ReadonlyPaths: [] });
    expect(host('--security-opt systempaths=unconfined').SecurityOpt).toBeUndefined();
    expect(usage(() => parseRunFlags('--security-opt label'))).toMatch(/--security-opt "label" is invalid: allowed KEY=VALUE/);
    expect(usage(() => parseRunFlags('--security-opt seccomp=nosuch.json', { cwd: tmp }))).toContain(`cannot read ${tmp}/nosuch.json (ENOENT)`);
    writeFileSync(join(tmp, 'notjson'), '{');
    expect(usage(() => parseRunFlags('--security-opt seccomp=notjson', { cwd: tmp }))).toContain('is not JSON');
  });

  it('--mount: bind, volume and tmpfs with the CLI csv keys', () => {
    expect(host('--mount type=bind,src=/a,dst=/b,readonly --mount type=bind,source=./rel,target=/r,bind-propagation=RSLAVE,bind-recursive=disabled').Mounts).toEqual([
      { Type: 'bind', Source: '/a', Target: '/b', ReadOnly: true },
      { Type: 'bind', Source: `${tmp}/rel`, Target: '/r', BindOptions: { Propagation: 'rslave', NonRecursive: true } },
    ]);
    expect(host('--mount target=/anon --mount TYPE=Volume,src=data,destination=/d,ro=false,volume-nocopy,volume-label=a=b,volume-driver=local,volume-opt=type=nfs,volume-opt=o=addr=1').Mounts).toEqual([
      { Type: 'volume', Target: '/anon' },
      {
        Type: 'volume',
        Source: 'data',
        Target: '/d',
        ReadOnly: false,
        VolumeOptions: { NoCopy: true, Labels: { a: 'b' }, DriverConfig: { Name: 'local', Options: { type: 'nfs', o: 'addr=1' } } },
      },
    ]);
    expect(host('--mount type=tmpfs,dst=/t,tmpfs-size=64m,tmpfs-mode=1770').Mounts).toEqual([{ Type: 'tmpfs', Target: '/t', TmpfsOptions: { SizeBytes: 64 * 2 ** 20, Mode: 0o1770 } }]);
    expect(host(`--mount 'type=bind,"src=/a,b",dst=/c'`).Mounts?.[0].Source).toBe('/a,b');
    const bad: [string, string][] = [
      ['type=bind,dst=/b', 'a bind mount needs source='],
      ['type=bind,src=rel,dst=/b', 'a bind mount needs source='],
      ['type=tmpfs,src=/a,dst=/t', 'a tmpfs mount takes no source'],
      ['type=volume,src=/x', 'target is required'],
      ['type=volume,dst=rel', 'target must be an absolute path'],
      ['type=image,src=i,dst=/i', 'type "image" is not supported'],
      ['type=bind,src=/a,dst=/b,volume-nocopy', "cannot mix 'volume-*' options with mount type 'bind'"],
      ['type=volume,dst=/b,tmpfs-size=1m', "cannot mix 'tmpfs-*' options"],
      ['type=tmpfs,dst=/t,tmpfs-size=lots', 'invalid value for tmpfs-size: lots'],
      ['type=tmpfs,dst=/t,tmpfs-mode=999', 'invalid value for tmpfs-mode: 999'],
      ['type=bind,src=/a,dst=/b,readonly=maybe', 'invalid value for readonly: maybe'],
      ['type=bind,src=/a,dst=/b,bind-recursive=writable', 'bind-recursive=writable requires readonly'],
      ['type=bind,src=/a,dst=/b,colour=red', "unexpected key 'colour'"],
      ['type=bind,src=/a,dst=/b,shared', "invalid field 'shared' must be a key=value pair"],
      ['type=volume,src=bad/name,dst=/b', 'a volume source is a volume name'],
    ];
    for (const [spec, reason] of bad) expect(usage(() => parseMount(spec)), spec).toContain(reason);
    expect(usage(() => parseRunFlags('--mount type=bind,dst=/b'))).toMatch(/^IMAGE_RUN_PARS: --mount "type=bind,dst=\/b" is invalid: a bind mount needs source=/);
  });

  it('--init=false is sent, as docker sends it; no --init sends nothing', () => {
    expect(host('--init=false').Init).toBe(false);
    expect(host('--init').Init).toBe(true);
    expect('Init' in host('')).toBe(false);
  });

  it('mergeRunFlags appends the new lists too', () => {
    const merged = mergeRunFlags(parseRunFlags('--gpus all --ulimit nofile=1 --tmpfs /a'), parseRunFlags('--gpus 1 --ulimit nofile=2 --tmpfs /b -m 1g'));
    expect(merged.gpus.map((g) => g.Count)).toEqual([-1, 1]);
    expect(toCreateOptions(merged, { image: 'i' }).HostConfig).toMatchObject({ Ulimits: [{ Name: 'nofile', Soft: 2, Hard: 2 }], Tmpfs: { '/a': '', '/b': '' }, Memory: 2 ** 30 });
  });
});

describe('refusalCode (docker run: 125, 126, 127)', () => {
  it('reads the Engine message as the docker CLI does', () => {
    expect(refusalCode('OCI runtime create failed: exec: "nosuch": executable file not found in $PATH: unknown')).toBe(127);
    expect(refusalCode('exec: "/x/y": stat /x/y: no such file or directory: unknown')).toBe(127);
    expect(refusalCode('exec: "/etc/passwd": permission denied: unknown')).toBe(126);
    expect(refusalCode('exec: "/tmp": is a directory: unknown')).toBe(126);
    expect(refusalCode('Conflict. The container name "/x" is already in use')).toBe(125);
    expect(refusalCode('No such image: x:latest')).toBe(125);
  });
});

describe('-e repeated', () => {
  it('is sent once per name with its last value, as docker 28 sends it', () => {
    expect(create('-e A=1 -e B=2 -e A=3 -e FROM_ENV -e C').Env).toEqual(['A=3', 'B=2', 'FROM_ENV=env value', 'C']);
  });
});
