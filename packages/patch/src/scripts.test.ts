import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ImagewrightError } from '@imagewright/core';
import type { OsInventory } from '@imagewright/inventory';
import { afterAll, describe, expect, it } from 'vitest';
import type { PatchFile } from './frame';
import {
  CA_BUNDLE,
  CERT_HOOK,
  caBundleInstall,
  checkOsPackage,
  checkPipRequirement,
  HOST_BUNDLES,
  managerOf,
  osUpgrade,
  packageInstall,
  pipInstall,
  readCaBundle,
} from './scripts';

const SHIPPED = join(__dirname, '..', 'scripts');
const BUSYBOX = '/bin/busybox';

const debian: OsInventory = { distro: { id: 'debian', idLike: [], prettyName: 'Debian GNU/Linux 12 (bookworm)' }, manager: 'apt', packages: [] };
const alpine: OsInventory = { distro: { id: 'alpine', idLike: [], prettyName: 'Alpine Linux v3.19' }, manager: 'apk', packages: [] };
const fedora: OsInventory = { distro: { id: 'fedora', idLike: [], prettyName: 'Fedora Linux 40' }, packages: [] };
const bare: OsInventory = { packages: [] };

function thrown(fn: () => unknown): ImagewrightError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ImagewrightError);
    return error as ImagewrightError;
  }
  throw new Error('expected a throw');
}

function usage(fn: () => unknown, ...mentions: string[]): ImagewrightError {
  const error = thrown(fn);
  expect(error.exitCode).toBe(2);
  expect(error.message).not.toContain('\n');
  for (const m of mentions) expect(error.message).toContain(m);
  return error;
}

const temps: string[] = [];
const tempDir = () => {
  const dir = mkdtempSync(join(tmpdir(), 'patch-scripts-test-'));
  temps.push(dir);
  return dir;
};
afterAll(() => temps.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** An executable that writes its arguments, one per line, to LOG (appending a `--` line after them). */
function stub(path: string, log: string): void {
  writeFileSync(path, `#!/bin/sh\nfor a in "$@"; do printf '%s\\n' "$a" >> '${log}'; done\nprintf -- '--\\n' >> '${log}'\n`);
  chmodSync(path, 0o755);
}

/** The argument lists LOG recorded, one per call. */
function calls(log: string): string[][] {
  if (!existsSync(log)) return [];
  const result: string[][] = [[]];
  for (const line of readFileSync(log, 'utf8').split('\n').slice(0, -1)) {
    if (line === '--') result.push([]);
    else result[result.length - 1].push(line);
  }
  return result.slice(0, -1);
}

function syntaxCheck(body: Buffer | string): void {
  const dir = tempDir();
  const file = join(dir, 'script');
  writeFileSync(file, body);
  for (const shell of [['sh'], ['bash'], [BUSYBOX, 'sh']]) {
    const run = spawnSync(shell[0], [...shell.slice(1), '-n', file], { encoding: 'utf8' });
    expect(run.error).toBeUndefined();
    expect({ shell: shell.join(' '), status: run.status, stderr: run.stderr }).toEqual({ shell: shell.join(' '), status: 0, stderr: '' });
  }
}

describe('managerOf and osUpgrade', () => {
  it('apt for Debian, apk for Alpine', () => {
    expect(managerOf(debian, 'img', 'patch-os')).toBe('apt');
    expect(managerOf(alpine, 'img', 'patch-os')).toBe('apk');
  });

  it('neither database: usage error naming the image, the command, Debian/Ubuntu and Alpine and what the image is', () => {
    usage(() => managerOf(fedora, 'registry.example/app:1', 'patch-os'), 'registry.example/app:1', 'patch-os', 'Debian/Ubuntu', 'Alpine', 'Fedora Linux 40');
    usage(() => managerOf(bare, 'scratchy', 'patch-apt'), 'scratchy', 'patch-apt', 'Debian/Ubuntu', 'Alpine', 'no /etc/os-release');
    usage(() => managerOf({ distro: { id: 'arch', idLike: [] }, packages: [] }, 'x', 'patch-os'), 'arch');
  });

  it('osUpgrade picks the shipped apt-upgrade / apk-upgrade, bytes as shipped, executable', () => {
    const apt = osUpgrade('img')(debian);
    const apk = osUpgrade('img')(alpine);
    expect(apt.name).toBe('apt-upgrade');
    expect(apk.name).toBe('apk-upgrade');
    expect(apt.body.equals(readFileSync(join(SHIPPED, 'apt-upgrade')))).toBe(true);
    expect(apk.body.equals(readFileSync(join(SHIPPED, 'apk-upgrade')))).toBe(true);
    expect(apt.mode).toBe(0o755);
    expect(apk.mode).toBe(0o755);
    expect(apt.body.toString()).toContain('apt-get');
    expect(apk.body.toString()).toContain('apk upgrade');
    usage(() => osUpgrade('img')(fedora), 'img', 'patch-os');
  });

  it('the shipped scripts pass sh -n, bash -n and busybox sh -n, start with #!/bin/sh and stop on errors', () => {
    const names = readdirSync(SHIPPED);
    expect(names.sort()).toEqual(['apk-upgrade', 'apt-upgrade']);
    for (const name of names) {
      const body = readFileSync(join(SHIPPED, name));
      syntaxCheck(body);
      expect(body.toString().startsWith('#!/bin/sh\n')).toBe(true);
      expect(body.toString()).toMatch(/^set -e/m);
    }
  });
});

describe('checkOsPackage', () => {
  const good = [
    'openssl',
    'libssl3',
    'g++',
    'libstdc++6',
    'python3.11',
    'ca-certificates',
    'py3-pip',
    '0ad',
    'libc6:amd64',
    'libc6:i386',
    'openssl=3.0.15-1~deb12u1',
    'tzdata=2024a-0+deb12u1',
    'bash=1:5.2.15-2+b7',
    'pkg=1:2.3-4',
    'libc6:amd64=2.36-9+deb12u7',
    'openssl=3.1.4-r5',
    'busybox=1.36.1-r15',
  ];
  it.each(good)('accepts %s', (spec) => {
    expect(() => checkOsPackage(spec)).not.toThrow();
  });

  const bad = [
    '',
    ' ',
    'a',
    'open ssl',
    ' openssl',
    'openssl ',
    'a;rm -rf /',
    'openssl;rm -rf /',
    '$(x)',
    'pkg$(x)',
    '`id`',
    'pkg=$(reboot)',
    'pkg=1.0;id',
    'pkg=1.0 other',
    "it's",
    'a|b',
    'a&b',
    'a>b',
    'pkg\nid',
    '-y',
    '--allow-unauthenticated',
    '+pkg',
    '.pkg',
    'OpenSSL',
    'pkg/bookworm-backports',
    '../pkg',
    'pkg*',
    'pkg=',
    '=1.0',
    'pkg==1.0',
    'pkg=1.0=2',
    'pkg:',
    'pkg:AMD64',
    'pkg>=1.0',
    'pkg~1.0',
    'pkg\0',
  ];
  it.each(bad.map((s) => [JSON.stringify(s), s]))('refuses %s (usage error naming it)', (_, spec) => {
    usage(() => checkOsPackage(spec), JSON.stringify(spec), 'allowed');
  });

  it('packageInstall refuses a bad spec before making anything', () => {
    usage(() => packageInstall(['openssl', 'x;id'], 'img'), '"x;id"');
  });
});

describe('checkPipRequirement', () => {
  const good = [
    'requests',
    'x',
    'requests==2.32.3',
    'Django==4.2.11',
    'zope.interface',
    'typing_extensions==4.12.2',
    'ruamel.yaml.clib',
    'requests[socks]',
    'requests[socks,security]==2.31.0',
    'pkg==1.0.post1',
    'pkg==1.0rc1',
    'pkg==1!2.0',
    'pkg==1.0+local.1',
    'pkg==2.*',
  ];
  it.each(good)('accepts %s as a requirement', (spec) => {
    expect(checkPipRequirement(spec)).toBe('requirement');
  });

  it('a .whl name is a wheel (the file is checked by patch-pip, its name quoted by pipInstall)', () => {
    expect(checkPipRequirement('dist/pkg-1.0-py3-none-any.whl')).toBe('wheel');
    expect(checkPipRequirement('/tmp/my wheel.whl')).toBe('wheel');
  });

  const bad = [
    '',
    ' ',
    'a b',
    'a;rm -rf /',
    '$(x)',
    '`id`',
    'requests==$(x)',
    'requests==1.0;id',
    'requests==1.0 other',
    'requests>=2',
    'requests~=2.0',
    'requests!=2.0',
    'requests===2.0',
    'requests==',
    '==1.0',
    'a==1==2',
    '-e',
    '-egit+https://example.org/x',
    '--index-url=http://evil.example',
    '-r/etc/passwd',
    '_private',
    'pkg-',
    'pkg.',
    '../pkg',
    'requests[socks',
    'requests[so cks]',
    "it's",
    'pkg\nid',
    'git+https://example.org/x.git',
    'pkg @ https://example.org/pkg.tar.gz',
    'pkg; python_version<"3.8"',
  ];
  it.each(bad.map((s) => [JSON.stringify(s), s]))('refuses %s (usage error naming it)', (_, spec) => {
    usage(() => checkPipRequirement(spec), JSON.stringify(spec), 'allowed');
  });
});

describe('generated scripts', () => {
  it('pass sh -n, bash -n and busybox sh -n', () => {
    const generated: PatchFile[] = [
      packageInstall(['openssl=3.0.15-1~deb12u1', 'libc6:amd64'], 'img')(debian),
      packageInstall(['openssl=3.1.4-r5'], 'img')(alpine),
      pipInstall('base', ['requests[socks]==2.31.0', 'pkg==2.*', "./we'ird $(x).whl"]),
      pipInstall("env 'quoted'", ['x']),
      caBundleInstall(),
    ];
    for (const file of generated) {
      syntaxCheck(file.body);
      expect(file.mode).toBe(0o755);
      expect(file.body.toString()).toMatch(/^#!\/bin\/sh\nset -eux\n/);
    }
  });

  it('packageInstall chooses by the image: apt-get install of exactly those (Debian), apk add (Alpine), refused otherwise', () => {
    const make = packageInstall(['openssl=3.0.15-1~deb12u1', 'libc6:amd64'], 'registry.example/app');
    const apt = make(debian).body.toString();
    expect(apt).toMatch(/^apt-get install --yes .* 'openssl=3\.0\.15-1~deb12u1' libc6:amd64$/m);
    expect(apt).not.toMatch(/upgrade/);
    const apk = packageInstall(['openssl=3.1.4-r5'], 'img')(alpine).body.toString();
    expect(apk).toMatch(/^apk add --no-cache --upgrade openssl=3\.1\.4-r5$/m);
    usage(() => make(fedora), 'registry.example/app', 'patch-apt');
  });

  it('packageInstall run with stub apt-get and apk: they get the packages as given, one argument each', () => {
    const dir = tempDir();
    const bin = join(dir, 'bin');
    mkdirSync(bin);
    const log = join(dir, 'log');
    for (const tool of ['apt-get', 'apk', 'rm']) stub(join(bin, tool), log);
    const specs = ['openssl=3.0.15-1~deb12u1', 'libc6:amd64', 'g++'];
    for (const [os, expected] of [
      [debian, [['update', '--yes'], ['install', '--yes', '--no-install-recommends', '-o', 'Dpkg::Options::=--force-confdef', '-o', 'Dpkg::Options::=--force-confold', ...specs], ['clean'], ['-rf']]],
      [alpine, [['add', '--no-cache', '--upgrade', ...specs]]],
    ] as const) {
      rmSync(log, { force: true });
      writeFileSync(join(dir, 'script'), packageInstall(specs, 'img')(os).body);
      // PATH holds the stubs only: nothing of the host is touched.
      const run = spawnSync('/bin/sh', [join(dir, 'script')], { cwd: dir, env: { PATH: bin }, encoding: 'utf8' });
      expect(run.status, run.stderr).toBe(0);
      const made = calls(log);
      // rm's glob expands to whatever the host's list directory holds (the stub removes nothing).
      if (os === debian) {
        const [, ...lists] = made[3];
        expect(lists.length).toBeGreaterThan(0);
        for (const l of lists) expect(l.startsWith('/var/lib/apt/lists/')).toBe(true);
        made[3] = made[3].slice(0, 1);
      }
      expect(made).toEqual(expected);
    }
  });

  it('pipInstall quotes what it embeds: the environment\'s pip gets each requirement as one argument, no globbing or expansion', () => {
    const dir = tempDir();
    const log = join(dir, 'log');
    const tool = join(dir, 'imagewright-env');
    stub(tool, log);
    // Files a glob or an unquoted word would pick up or split on.
    writeFileSync(join(dir, 'pkg==2.x'), '');
    writeFileSync(join(dir, 'requestss'), '');
    const requirements = ['requests[socks]==2.31.0', 'pkg==2.*', 'requests[s]', "./we'ird $(touch pwned) `touch pwned2`.whl", './a  b.whl', './plain-1.0-py3-none-any.whl'];
    const environment = "my env's $(touch pwned3)";
    const body = pipInstall(environment, requirements).body.toString();
    expect(body).toContain('/opt/common-scripts/imagewright-env');
    writeFileSync(join(dir, 'script'), body.replace('/opt/common-scripts/imagewright-env', tool));
    const run = spawnSync('/bin/sh', [join(dir, 'script')], { cwd: dir, env: { PATH: '/usr/bin:/bin' }, encoding: 'utf8' });
    expect(run.status, run.stderr).toBe(0);
    expect(calls(log)).toEqual([['pip', environment, 'install', '--no-cache-dir', ...requirements]]);
    expect(readdirSync(dir).filter((f) => f.startsWith('pwned'))).toEqual([]);
  });
});

const cert = (n: number) => `-----BEGIN CERTIFICATE-----\nMIIB${String(n).repeat(60)}\nQUJD${n}${n}${n}==\n-----END CERTIFICATE-----\n`;

describe('caBundleInstall', () => {
  const bundle = `# Issuer: CN=First\n${cert(1)}\n# Issuer: CN=Second\nsome text between\n${cert(2)}trailing text\n`;

  it('the awk line splits a two-certificate bundle into ca-001.crt and ca-002.crt (host awk and busybox awk)', () => {
    const body = caBundleInstall().body.toString();
    const awk = body.split('\n').filter((l) => l.startsWith('awk '));
    expect(awk).toHaveLength(1);
    for (const awkPath of ['/usr/bin/awk', BUSYBOX]) {
      const dir = tempDir();
      const bin = join(dir, 'bin');
      mkdirSync(bin);
      symlinkSync(awkPath, join(bin, 'awk'));
      writeFileSync(join(dir, CA_BUNDLE), bundle);
      const out = join(dir, 'out dir');
      mkdirSync(out);
      const run = spawnSync('/bin/sh', ['-euc', `dir="$1"\n${awk[0]}`, 'sh', out], { cwd: dir, env: { PATH: bin }, encoding: 'utf8' });
      expect(run.status, `${awkPath}: ${run.stderr}`).toBe(0);
      expect(readdirSync(out).sort()).toEqual(['ca-001.crt', 'ca-002.crt']);
      expect(readFileSync(join(out, 'ca-001.crt'), 'utf8')).toBe(cert(1));
      expect(readFileSync(join(out, 'ca-002.crt'), 'utf8')).toBe(cert(2));
    }
  });

  /** The whole script with its absolute paths moved under ROOT, busybox's tools only on PATH. */
  function runWhole(root: string, options: { hook?: boolean; updateCaCertificates?: boolean; bundleText?: string } = {}) {
    const paths = ['/usr/local/share/ca-certificates/imagewright', '/etc/ssl/certs', CERT_HOOK];
    let body = caBundleInstall().body.toString();
    for (const p of paths) {
      expect(body).toContain(p);
      body = body.split(p).join(join(root, p));
    }
    const bin = join(root, 'bin');
    mkdirSync(bin, { recursive: true });
    for (const applet of ['awk', 'mkdir', 'rm', 'cp']) if (!existsSync(join(bin, applet))) symlinkSync(BUSYBOX, join(bin, applet));
    const log = join(root, 'hook.log');
    rmSync(log, { force: true });
    rmSync(join(root, CERT_HOOK), { force: true });
    rmSync(join(bin, 'update-ca-certificates'), { force: true });
    if (options.hook) {
      mkdirSync(join(root, '/opt/common-scripts'), { recursive: true });
      stub(join(root, CERT_HOOK), log);
    }
    if (options.updateCaCertificates) stub(join(bin, 'update-ca-certificates'), log);
    const work = join(root, 'patch');
    mkdirSync(work, { recursive: true });
    writeFileSync(join(work, CA_BUNDLE), options.bundleText ?? bundle);
    writeFileSync(join(work, 'script'), body);
    const run = spawnSync(BUSYBOX, ['sh', join(work, 'script')], { cwd: work, env: { PATH: bin }, encoding: 'utf8' });
    return { ...run, hookCalls: calls(log) };
  }

  it('the whole script (busybox sh, paths under a temp root): certificates split, bundle copied, the hook run; a rerun replaces earlier ones', () => {
    const root = tempDir();
    const first = runWhole(root, { hook: true });
    expect(first.status, first.stderr).toBe(0);
    const dir = join(root, '/usr/local/share/ca-certificates/imagewright');
    expect(readdirSync(dir).sort()).toEqual(['ca-001.crt', 'ca-002.crt']);
    expect(readFileSync(join(dir, 'ca-002.crt'), 'utf8')).toBe(cert(2));
    expect(readFileSync(join(root, '/etc/ssl/certs/imagewright-ca-bundle.pem'), 'utf8')).toBe(bundle);
    expect(first.hookCalls).toEqual([[]]);

    // A smaller bundle later: ca-002.crt of the first run does not linger.
    const second = runWhole(root, { updateCaCertificates: true, bundleText: cert(3) });
    expect(second.status, second.stderr).toBe(0);
    expect(readdirSync(dir)).toEqual(['ca-001.crt']);
    expect(readFileSync(join(dir, 'ca-001.crt'), 'utf8')).toBe(cert(3));
    expect(readFileSync(join(root, '/etc/ssl/certs/imagewright-ca-bundle.pem'), 'utf8')).toBe(cert(3));
    expect(second.hookCalls).toEqual([[]]);
  });

  it('neither the hook nor update-ca-certificates: exit 3 with a message saying what to install', () => {
    const run = runWhole(tempDir());
    expect(run.status).toBe(3);
    expect(run.stderr).toContain('install ca-certificates');
  });
});

describe('readCaBundle', () => {
  it('a bundle file: its bytes and the number of certificates', () => {
    const dir = tempDir();
    const file = join(dir, 'bundle.pem');
    const text = `${cert(1)}junk\n${cert(2)}${cert(3)}`;
    writeFileSync(file, text);
    const read = readCaBundle(file);
    expect(read.file).toBe(file);
    expect(read.body.toString()).toBe(text);
    expect(read.certificates).toBe(3);
  });

  it('auto: the first bundle of HOST_BUNDLES this host has (or a usage error naming them when none)', () => {
    const expected = HOST_BUNDLES.find((f) => existsSync(f));
    if (expected) {
      const read = readCaBundle('auto');
      expect(read.file).toBe(expected);
      expect(read.body.equals(readFileSync(expected))).toBe(true);
      expect(read.certificates).toBeGreaterThan(0);
    } else {
      usage(() => readCaBundle('auto'), 'auto', ...HOST_BUNDLES);
    }
  });

  it('a missing file, a directory, a file without a certificate: usage errors naming the file', () => {
    const dir = tempDir();
    usage(() => readCaBundle(join(dir, 'nope.pem')), join(dir, 'nope.pem'), 'no such file');
    usage(() => readCaBundle(dir), dir);
    const empty = join(dir, 'empty.pem');
    writeFileSync(empty, '');
    usage(() => readCaBundle(empty), empty, 'no PEM certificate');
    const key = join(dir, 'key.pem');
    writeFileSync(key, '-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n-----BEGIN CERTIFICATE-----\nno end marker\n');
    usage(() => readCaBundle(key), key, 'no PEM certificate');
  });
});
