import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseApkInstalled, parseDpkgStatus, parseOsRelease } from './parsers';

// dpkg-status: 13 paragraphs of imagewright/debian:bookworm-minbase's /var/lib/dpkg/status, taken
// after `dpkg -r e2fsprogs` in a container of it (a real "deinstall ok config-files" paragraph);
// os-release-debian: its /usr/lib/os-release. apk-installed: written in apk's real format.
const fixture = (name: string) => readFileSync(join(__dirname, '__fixtures__', name), 'utf8');

describe('parseOsRelease', () => {
  it("reads Debian's real os-release", () => {
    const values = parseOsRelease(fixture('os-release-debian'));
    expect(values).toMatchObject({
      PRETTY_NAME: 'Debian GNU/Linux 12 (bookworm)',
      NAME: 'Debian GNU/Linux',
      VERSION_ID: '12',
      VERSION: '12 (bookworm)',
      VERSION_CODENAME: 'bookworm',
      ID: 'debian',
      HOME_URL: 'https://www.debian.org/',
    });
  });

  it('follows the shell quoting of os-release(5): double, single and bare values, escapes, comments', () => {
    const values = parseOsRelease(
      [
        '# a comment',
        '',
        'A="x \\"q\\" \\$y \\\\ \\`z\\n"',
        "B='single $x \"d\" \\n'",
        'C=bare\\ word',
        '  D=indented  ',
        'E="joined"\'parts\'too',
        'F="never closed',
        'not an assignment',
        'G=',
        'ID=first',
        'ID=second',
      ].join('\n'),
    );
    expect(values).toEqual({
      A: 'x "q" $y \\ `z\\n',
      B: 'single $x "d" \\n',
      C: 'bare word',
      D: 'indented',
      E: 'joinedpartstoo',
      G: '',
      ID: 'second',
    });
  });
});

describe('parseDpkgStatus', () => {
  it('lists the installed packages of a real status file, with architecture and source (name and version)', () => {
    const text = fixture('dpkg-status');
    const packages = parseDpkgStatus(text);
    // Every paragraph but the one dpkg -r left in "deinstall ok config-files".
    const paragraphs = text.split('\n\n').length;
    expect(packages).toHaveLength(paragraphs - 1);
    expect(packages.map((p) => p.name)).not.toContain('e2fsprogs');
    const by = new Map(packages.map((p) => [p.name, p]));
    // Source: "name (version)": the source version differs from the binary's (a binNMU).
    expect(by.get('bash')).toEqual({ name: 'bash', version: '5.2.15-2+b13', architecture: 'amd64', source: 'bash', sourceVersion: '5.2.15-2' });
    // Epochs are part of the version.
    expect(by.get('libcap2')).toEqual({ name: 'libcap2', version: '1:2.66-4+deb12u3+b1', architecture: 'amd64', source: 'libcap2', sourceVersion: '1:2.66-4+deb12u3' });
    // Source: name only: same version as the binary.
    expect(by.get('libc6')).toEqual({ name: 'libc6', version: '2.36-9+deb12u14', architecture: 'amd64', source: 'glibc', sourceVersion: '2.36-9+deb12u14' });
    // No Source field: the package is its own source.
    expect(by.get('adduser')).toEqual({ name: 'adduser', version: '3.134', architecture: 'all', source: 'adduser', sourceVersion: '3.134' });
  });

  it('keeps installed (any want flag), drops other states; a paragraph without Status counts (distroless)', () => {
    const text = [
      'Package: held\nStatus: hold ok installed\nVersion: 1\nArchitecture: amd64',
      'Package: half\nStatus: install ok half-installed\nVersion: 2',
      'Package: unpacked\nStatus: install ok unpacked\nVersion: 3',
      'Package: gone\nStatus: purge ok not-installed\nArchitecture: amd64',
      'Package: distroless\nVersion: 4\nArchitecture: arm64\nDescription: first line\n second line\n .\n third',
      'Package: noversion\nStatus: install ok installed',
    ].join('\n\n');
    expect(parseDpkgStatus(text).map((p) => `${p.name} ${p.version}`)).toEqual(['held 1', 'distroless 4']);
    expect(parseDpkgStatus('')).toEqual([]);
  });
});

describe('parseApkInstalled', () => {
  it('lists the packages of an apk installed database with architecture and origin', () => {
    const packages = parseApkInstalled(fixture('apk-installed'));
    expect(packages).toEqual([
      { name: 'alpine-baselayout-data', version: '3.4.3-r2', architecture: 'x86_64', source: 'alpine-baselayout', sourceVersion: '3.4.3-r2' },
      { name: 'musl', version: '1.2.4_git20230717-r4', architecture: 'x86_64', source: 'musl', sourceVersion: '1.2.4_git20230717-r4' },
      { name: 'busybox', version: '1.36.1-r15', architecture: 'x86_64', source: 'busybox', sourceVersion: '1.36.1-r15' },
      { name: 'libcrypto3', version: '3.1.4-r5', architecture: 'x86_64', source: 'openssl', sourceVersion: '3.1.4-r5' },
      { name: 'ssl_client', version: '1.36.1-r15', architecture: 'x86_64', source: 'busybox', sourceVersion: '1.36.1-r15' },
    ]);
  });

  it('a record without P: or V: is skipped; a missing final blank line is fine', () => {
    expect(parseApkInstalled('C:Q1x=\nP:a\nV:1-r0\n\nP:noversion\n\nV:2\n\nP:b\nV:2-r1\no:bee')).toEqual([
      { name: 'a', version: '1-r0', source: 'a', sourceVersion: '1-r0' },
      { name: 'b', version: '2-r1', source: 'bee', sourceVersion: '2-r1' },
    ]);
  });
});
