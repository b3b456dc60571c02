import { describe, expect, it } from 'vitest';
import { parsePurl, purlOf } from './purl';
import { apkOwnedFiles, dpkgListPaths, environmentOf, parseCondaMeta, parsePythonMetadata, pep503Name, recordKindOf } from './records';

describe('recordKindOf', () => {
  it('dist-info METADATA, egg-info PKG-INFO, unzipped EGG-INFO and egg-info files are Python records; conda-meta JSON is conda', () => {
    expect(recordKindOf('opt/envs/x/lib/python3.11/site-packages/pip-23.0.1.dist-info/METADATA')).toBe('python');
    expect(recordKindOf('usr/lib/python3/dist-packages/six-1.16.0.egg-info/PKG-INFO')).toBe('python');
    expect(recordKindOf('usr/lib/python3/dist-packages/foo-1.0-py3.11.egg/EGG-INFO/PKG-INFO')).toBe('python');
    expect(recordKindOf('usr/lib/python3/dist-packages/distro_info-1.0.egg-info')).toBe('python-file');
    expect(recordKindOf('opt/conda/conda-meta/zlib-1.2.13-h5eee18b_0.json')).toBe('conda');
    expect(recordKindOf('conda-meta/zlib-1.2.13-h5eee18b_0.json')).toBe('conda');
    for (const path of ['x.dist-info/RECORD', 'x.dist-info', 'a/METADATA', 'x.egg-info/SOURCES.txt', 'opt/conda/conda-meta/history', 'opt/conda/conda-meta/sub/x.json', 'opt/notconda-meta/x.json']) {
      expect(recordKindOf(path), path).toBeUndefined();
    }
  });
});

describe('parsePythonMetadata', () => {
  it('Name and Version from the headers only (case-insensitive), the body ignored, CRLF and a BOM allowed', () => {
    const text = '\uFEFFMetadata-Version: 2.1\r\nname: PyYAML\r\nVERSION: 6.0\r\nSummary: YAML\r\n  parser\r\n\r\nName: not-this\nVersion: 9\n';
    expect(parsePythonMetadata(text)).toEqual({ name: 'PyYAML', version: '6.0' });
  });
  it('the first of a header wins; a record without a name or version is none', () => {
    expect(parsePythonMetadata('Name: a\nName: b\nVersion: 1\n')).toEqual({ name: 'a', version: '1' });
    expect(parsePythonMetadata('Name: a\n')).toBeUndefined();
    expect(parsePythonMetadata('Version: 1\nName:\n')).toBeUndefined();
    expect(parsePythonMetadata('')).toBeUndefined();
  });
});

describe('parseCondaMeta', () => {
  it('name, version, build; the channel name out of its URL with or without the subdir', () => {
    const record = { name: 'openssl', version: '1.1.1q', build: 'h7f8727e_0', channel: 'https://repo.anaconda.com/pkgs/main/linux-64', subdir: 'linux-64', files: ['lib/libssl.so'] };
    expect(parseCondaMeta(JSON.stringify(record))).toEqual({ name: 'openssl', version: '1.1.1q', build: 'h7f8727e_0', channel: 'main', subdir: 'linux-64' });
    expect(parseCondaMeta(JSON.stringify({ name: 'zlib', version: '1.3', channel: 'https://conda.anaconda.org/conda-forge/noarch' }))).toEqual({ name: 'zlib', version: '1.3', channel: 'conda-forge' });
    expect(parseCondaMeta(JSON.stringify({ name: 'zlib', version: '1.3', channel: 'conda-forge' }))).toEqual({ name: 'zlib', version: '1.3', channel: 'conda-forge' });
  });
  it('not JSON, not an object, or no name/version: none', () => {
    for (const text of ['{', '[]', 'null', '{"name":"x"}', '{"version":"1"}', '{"name":1,"version":"1"}']) expect(parseCondaMeta(text), text).toBeUndefined();
  });
});

describe('environmentOf', () => {
  it('the prefix before lib/pythonX.Y, the folder holding conda-meta, else the site directory', () => {
    expect(environmentOf('opt/envs/tools/lib/python3.11/site-packages/pip-23.0.1.dist-info/METADATA', 'python')).toBe('opt/envs/tools');
    expect(environmentOf('usr/lib/python3/dist-packages/six-1.16.0.egg-info/PKG-INFO', 'python')).toBe('usr');
    expect(environmentOf('usr/local/lib/python3.11/dist-packages/x-1.egg-info', 'python-file')).toBe('usr/local');
    expect(environmentOf('opt/conda/envs/x/lib64/python3.9/site-packages/a-1.dist-info/METADATA', 'python')).toBe('opt/conda/envs/x');
    expect(environmentOf('lib/python3.11/site-packages/a-1.dist-info/METADATA', 'python')).toBe('');
    expect(environmentOf('srv/mylib/python/a-1.dist-info/METADATA', 'python')).toBe('srv/mylib/python');
    expect(environmentOf('opt/conda/envs/x/conda-meta/zlib-1.json', 'conda')).toBe('opt/conda/envs/x');
    expect(environmentOf('conda-meta/zlib-1.json', 'conda')).toBe('');
  });
});

describe('OS package file lists', () => {
  it('apk: R: files under the F: directory before them, per P: package', () => {
    const db = 'P:musl\nV:1\nF:lib\nR:ld-musl.so.1\n\nP:py3-six\nV:1.16\nF:usr/lib/python3.11/site-packages\nR:six.py\nF:usr/lib/python3.11/site-packages/six-1.16.0.dist-info\nR:METADATA\nR:RECORD\n\nP:top\nR:rootfile\n';
    expect([...apkOwnedFiles(db)]).toEqual([
      ['lib/ld-musl.so.1', 'musl'],
      ['usr/lib/python3.11/site-packages/six.py', 'py3-six'],
      ['usr/lib/python3.11/site-packages/six-1.16.0.dist-info/METADATA', 'py3-six'],
      ['usr/lib/python3.11/site-packages/six-1.16.0.dist-info/RECORD', 'py3-six'],
      ['rootfile', 'top'],
    ]);
  });
  it('dpkg: absolute paths made root-relative, /. and blanks dropped', () => {
    expect(dpkgListPaths('/.\n/usr\n/usr/lib/python3/dist-packages/six-1.16.0.egg-info/PKG-INFO\n\n')).toEqual(['usr', 'usr/lib/python3/dist-packages/six-1.16.0.egg-info/PKG-INFO']);
  });
});

describe('purlOf', () => {
  const debian = { id: 'debian', idLike: [], versionId: '12' };
  it('deb: namespace from the distro (ID_LIKE for derivatives), arch and distro qualifiers, the epoch a qualifier', () => {
    expect(purlOf({ type: 'deb', name: 'libc6', version: '2.36-9+deb12u4', architecture: 'amd64' }, debian)).toBe('pkg:deb/debian/libc6@2.36-9+deb12u4?arch=amd64&distro=debian-12');
    expect(purlOf({ type: 'deb', name: 'zlib1g', version: '1:1.2.13.dfsg-1', architecture: 'amd64' }, debian)).toBe('pkg:deb/debian/zlib1g@1.2.13.dfsg-1?arch=amd64&distro=debian-12&epoch=1');
    expect(purlOf({ type: 'deb', name: 'bash', version: '5.1-6ubuntu1' }, { id: 'ubuntu', idLike: ['debian'], versionId: '22.04' })).toBe('pkg:deb/ubuntu/bash@5.1-6ubuntu1?distro=ubuntu-22.04');
    expect(purlOf({ type: 'deb', name: 'bash', version: '5' }, { id: 'pop', idLike: ['ubuntu', 'debian'] })).toBe('pkg:deb/ubuntu/bash@5?distro=pop');
  });
  it('apk, pypi (PEP 503 name), conda (build, channel, subdir)', () => {
    expect(purlOf({ type: 'apk', name: 'musl', version: '1.2.4-r2', architecture: 'x86_64' }, { id: 'alpine', idLike: [], versionId: '3.19.1' })).toBe('pkg:apk/alpine/musl@1.2.4-r2?arch=x86_64&distro=alpine-3.19.1');
    expect(purlOf({ type: 'pypi', name: 'Zope.Interface__x', version: '6.0' })).toBe('pkg:pypi/zope-interface-x@6.0');
    expect(purlOf({ type: 'conda', name: 'openssl', version: '1.1.1q', build: 'h7f8727e_0', channel: 'main', subdir: 'linux-64' })).toBe('pkg:conda/openssl@1.1.1q?build=h7f8727e_0&channel=main&subdir=linux-64');
    expect(pep503Name('A_b.C--d')).toBe('a-b-c-d');
  });
  it('parsePurl takes them apart again; junk is none', () => {
    expect(parsePurl('pkg:deb/debian/zlib1g@1.2.13.dfsg-1?arch=amd64&distro=debian-12&epoch=1')).toEqual({ type: 'deb', namespace: 'debian', name: 'zlib1g', version: '1.2.13.dfsg-1', qualifiers: { arch: 'amd64', distro: 'debian-12', epoch: '1' } });
    expect(parsePurl('not a purl')).toBeUndefined();
  });
});
