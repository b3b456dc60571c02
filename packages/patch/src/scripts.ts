import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { shellQuote, usageError } from '@imagewright/core';
import type { OsInventory } from '@imagewright/inventory';
import type { PatchFile } from './frame';

/** The patch scripts imagewright ships (packages/patch/scripts). */
export const SCRIPTS_DIR = join(__dirname, '..', 'scripts');

export function shippedScript(name: 'apt-upgrade' | 'apk-upgrade'): PatchFile {
  return { name, body: readFileSync(join(SCRIPTS_DIR, name)), mode: 0o755 };
}

/** One shell word (the image model's quoting, shared with squash-build-cmd). */
const quote = shellQuote;

function distroName(os: OsInventory): string {
  return os.distro ? `${os.distro.prettyName ?? os.distro.id}` : 'no /etc/os-release';
}

/** The package manager of IMAGE, or one line saying what is allowed. */
export function managerOf(os: OsInventory, image: string, command: string): 'apt' | 'apk' {
  if (os.manager) return os.manager;
  throw usageError(`${image}: ${command} knows Debian/Ubuntu (apt) and Alpine (apk) images; this one has neither package database (${distroName(os)})`);
}

/** patch-os: the OS update for the image's distribution. */
export function osUpgrade(image: string) {
  return (os: OsInventory): PatchFile => shippedScript(managerOf(os, image, 'patch-os') === 'apt' ? 'apt-upgrade' : 'apk-upgrade');
}

// Debian policy: name [a-z0-9][a-z0-9+.-]+ (an :arch may follow); version [epoch:]upstream[-revision].
const DEB_PACKAGE = /^[a-z0-9][a-z0-9+.-]+(?::[a-z0-9-]+)?$/;
const DEB_VERSION = /^[0-9A-Za-z.+~:-]+$/;

/** PACKAGE[=VERSION] as apt-get install and apk add both take it. */
export function checkOsPackage(spec: string): void {
  const eq = spec.indexOf('=');
  const name = eq < 0 ? spec : spec.slice(0, eq);
  const version = eq < 0 ? undefined : spec.slice(eq + 1);
  if (!DEB_PACKAGE.test(name) || (version !== undefined && !DEB_VERSION.test(version))) {
    throw usageError(`PACKAGE ${JSON.stringify(spec)}: allowed NAME or NAME=VERSION (lower-case name of a-z 0-9 + . -, version of letters, digits . + ~ : -)`);
  }
}

/** patch-apt: one package (or a few) to the named or newest version, nothing else upgraded. */
export function packageInstall(packages: string[], image: string) {
  for (const p of packages) checkOsPackage(p);
  const list = packages.map(quote).join(' ');
  return (os: OsInventory): PatchFile => {
    const lines =
      managerOf(os, image, 'patch-apt') === 'apt'
        ? [
            'export DEBIAN_FRONTEND=noninteractive',
            'apt-get update --yes',
            `apt-get install --yes --no-install-recommends -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold ${list}`,
            'apt-get clean',
            'rm -rf /var/lib/apt/lists/*',
          ]
        : [`apk add --no-cache --upgrade ${list}`];
    return script('apt-install', ['# imagewright patch-apt: these packages only, to the version named or the newest.', ...lines]);
  };
}

// PEP 508 name, optionally ==version (PEP 440 characters).
const PIP_NAME = /^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?(?:\[[A-Za-z0-9._,-]+\])?$/;
const PIP_VERSION = /^[A-Za-z0-9.!+*_-]+$/;

/** A pip requirement patch-pip takes: NAME[==VERSION], or a local wheel file. */
export function checkPipRequirement(spec: string): 'requirement' | 'wheel' {
  if (spec.endsWith('.whl')) return 'wheel';
  const [name, version, ...more] = spec.split('==');
  if (!PIP_NAME.test(name) || more.length || (version !== undefined && !PIP_VERSION.test(version))) {
    throw usageError(`PACKAGE ${JSON.stringify(spec)}: allowed NAME, NAME==VERSION or a local .whl file`);
  }
  return 'requirement';
}

/** patch-pip: pip install into environment ENV with its own pip (wheels from the patch folder). */
export function pipInstall(environment: string, requirements: string[]): PatchFile {
  return script('pip-install', [
    `# imagewright patch-pip: into environment ${environment}, with its own pip.`,
    `exec /opt/common-scripts/imagewright-env pip ${quote(environment)} install --no-cache-dir ${requirements.map(quote).join(' ')}`,
  ]);
}

export const CA_BUNDLE = 'ca-bundle.pem';
export const CERT_HOOK = '/opt/common-scripts/fix-certs';

/**
 * patch-ssl: the CA bundle (beside the script) split into one certificate per file under
 * /usr/local/share/ca-certificates/imagewright/ (earlier ones replaced), the whole bundle as
 * /etc/ssl/certs/imagewright-ca-bundle.pem (as the original's stsci-tls-ca-bundle.pem), then the
 * image's certificate hook (STScI's fix-certs) or update-ca-certificates.
 */
export function caBundleInstall(): PatchFile {
  return script('install-ca-bundle', [
    '# imagewright patch-ssl: a CA bundle into the image\'s trust store.',
    'dir=/usr/local/share/ca-certificates/imagewright',
    'mkdir -p "$dir" /etc/ssl/certs',
    'rm -f "$dir"/*.crt',
    `awk -v dir="$dir" '/-----BEGIN CERTIFICATE-----/ { n++; file = sprintf("%s/ca-%03d.crt", dir, n) } file { print > file } /-----END CERTIFICATE-----/ { close(file); file = "" }' ${CA_BUNDLE}`,
    `cp ${CA_BUNDLE} /etc/ssl/certs/imagewright-ca-bundle.pem`,
    `if [ -x ${CERT_HOOK} ]; then`,
    `  ${CERT_HOOK}`,
    'elif command -v update-ca-certificates >/dev/null 2>&1; then',
    '  update-ca-certificates',
    'else',
    `  echo "no certificate hook (${CERT_HOOK}) and no update-ca-certificates in the image: install ca-certificates first" >&2`,
    '  exit 3',
    'fi',
  ]);
}

/** Where `auto` finds the host's CA bundle (Debian/Ubuntu, RHEL/Fedora, Alpine/SUSE). */
export const HOST_BUNDLES = ['/etc/ssl/certs/ca-certificates.crt', '/etc/pki/tls/certs/ca-bundle.crt', '/etc/ssl/cert.pem', '/etc/ssl/ca-bundle.pem'];

/** CERT_FILE or `auto`: the bundle's bytes, at least one PEM certificate. */
export function readCaBundle(given: string): { file: string; body: Buffer; certificates: number } {
  const fs = require('node:fs') as typeof import('node:fs');
  const file = given === 'auto' ? HOST_BUNDLES.find((f) => fs.existsSync(f)) : given;
  if (!file) throw usageError(`CERT_FILE auto: no CA bundle on this host (looked for ${HOST_BUNDLES.join(', ')}); allowed a PEM file`);
  let body: Buffer;
  try {
    body = fs.readFileSync(file);
  } catch (error) {
    throw usageError(`CERT_FILE ${file}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message}; allowed a PEM file of CA certificates or auto`);
  }
  const certificates = body.toString('latin1').match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g)?.length ?? 0;
  if (!certificates) throw usageError(`CERT_FILE ${file}: holds no PEM certificate; allowed a PEM file of CA certificates or auto`);
  return { file, body, certificates };
}

function script(name: string, lines: string[]): PatchFile {
  return { name, body: Buffer.from(['#!/bin/sh', 'set -eux', ...lines, ''].join('\n')), mode: 0o755 };
}

/** patch-pip's check: the environment's tests failed on the patched image. */
export function testsFailed(environment: string, failed: number, passed: number) {
  const { failure } = require('@imagewright/core') as typeof import('@imagewright/core');
  return failure(`the tests of ${environment} failed on the patched image (${failed} failed, ${passed} passed): tag not moved (--no-test skips them)`);
}
