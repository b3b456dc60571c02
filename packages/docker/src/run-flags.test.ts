import { describe, expect, it } from 'vitest';
import { ImagewrightError } from '@imagewright/core';
import {
  emptyRunFlags,
  mergeRunFlags,
  parsePort,
  parseRunFlags,
  parseVolume,
  splitRunPars,
  SUPPORTED_RUN_FLAGS,
  toCreateOptions,
} from './run-flags';
import { devRunFlags, INTERACTIVE_SHELL, shellFlags, DEV_LABEL } from './run';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The usage error a call throws: exit code 2 and its one line. */
function usage(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ImagewrightError);
    expect((error as ImagewrightError).exitCode).toBe(2);
    expect((error as Error).message).not.toContain('\n');
    return (error as Error).message;
  }
  throw new Error('expected a usage error');
}

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

  it('takes -e NAME from the given environment, and drops it when unset (as docker)', () => {
    expect(parseRunFlags('-e HOME_X -e MISSING -e EMPTY', { env: { HOME_X: '/h', EMPTY: '' } }).env).toEqual(['HOME_X=/h', 'EMPTY=']);
    expect(parseRunFlags('-e HOME_X').env).toEqual([]);
  });

  it('keeps quoted values whole', () => {
    expect(parseRunFlags(`-e "MSG=hello  world" -v '/my dir:/data'`)).toMatchObject({
      env: ['MSG=hello  world'],
      volumes: [{ source: '/my dir', target: '/data' }],
    });
  });

  it('names an unsupported flag and lists the supported ones', () => {
    const message = usage(() => parseRunFlags('--rm --cpus 2'));
    expect(message).toBe(`IMAGE_RUN_PARS: --cpus is not supported (supported: ${SUPPORTED_RUN_FLAGS.join(', ')})`);
    expect(message).toContain('--rm, -e/--env, -p/--publish, -v/--volume');
    expect(usage(() => parseRunFlags('--cpus=2'))).toMatch(/^IMAGE_RUN_PARS: --cpus is not supported/);
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
    expect(parseVolume('sub/dir:/ctr:rw,z')).toEqual({ kind: 'bind', source: 'sub/dir', target: '/ctr', options: ['rw', 'z'] });
    expect(parseVolume('cache:/ctr:nocopy')).toEqual({ kind: 'volume', source: 'cache', target: '/ctr', options: ['nocopy'] });
    expect(parseVolume('/data')).toEqual({ kind: 'anonymous', target: '/data', options: [] });
  });
  it('rejects bad specs with the spec in the message', () => {
    for (const bad of ['', 'rel', '/', '/a:rel', '/a:/', '/a:/b:xx', '/a:/b:ro,rw', '/a:/b:ro:x', 'v:/b:', '~/x:/y', 'x:/y', 'bad$name:/y']) {
      expect(usage(() => parseVolume(bad)), bad).toContain(`-v ${JSON.stringify(bad)} is invalid`);
    }
    expect(usage(() => parseVolume('~/x:/y'))).toContain('~ is not expanded');
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

  it('resolves relative bind sources against the cwd given', () => {
    expect(create('-v ../up:/a -v sub/x:/b -v .:/c', '/base/dir').HostConfig?.Binds).toEqual(['/base/up:/a', '/base/dir/sub/x:/b', '/base/dir:/c']);
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

  it('mounts the dev sources that exist, without --rm', () => {
    const root = mkdtempSync(join(tmpdir(), 'imagewright-devflags-'));
    const COMMON_DIR = join(root, 'common');
    const IMAGE_DIR = join(root, 'dep');
    mkdirSync(join(COMMON_DIR, 'common-scripts'), { recursive: true });
    mkdirSync(join(IMAGE_DIR, 'environments'), { recursive: true });
    const config = { COMMON_DIR, IMAGE_DIR, DEPLOYMENT_NAME: 'dep' };
    const flags = devRunFlags(config, false);
    expect(flags).toMatchObject({ rm: false, interactive: true, tty: false, env: ['JH_DEVELOP=1'], labels: { [DEV_LABEL]: 'dep' } });
    expect(toCreateOptions(flags, { image: 'i' }).HostConfig?.Binds).toEqual([
      `${COMMON_DIR}/common-scripts:/opt/common-scripts:rw`,
      `${IMAGE_DIR}/environments:/opt/environments:rw`,
    ]);
    mkdirSync(join(COMMON_DIR, 'common-env'));
    expect(devRunFlags(config, true).volumes.map((v) => v.target)).toEqual(['/opt/common-scripts', '/opt/common-env', '/opt/environments']);
    expect(devRunFlags(config, true).tty).toBe(true);
    expect(usage(() => devRunFlags({ ...config, IMAGE_DIR: join(root, 'nope') }, false))).toContain('environments: missing');
  });
});
