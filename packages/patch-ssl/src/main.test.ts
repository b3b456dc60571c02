import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Engine } from '@imagewright/docker';
import { busyboxEntries, childImagesOf, ensureEngine, envFor, filesInImage, loadLayeredImage, patchContainersOf, runBin, tempDeploymentRoot, removeRepository, type LayerEntry } from '@imagewright/testing';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// Real Engine: busybox images with (or without) a certificate hook are patched by the built bin;
// what landed in the image is read back from `docker export` of a container of the result.
const REPO = `imagewright-test/patch-ssl-${process.pid}`;
const DEPLOYMENT = 'ssldep';
const HOST_BUNDLE = '/etc/ssl/certs/ca-certificates.crt';
const CA_DIR = 'usr/local/share/ca-certificates/imagewright';
const PEM = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;
let engine: Engine;

// The STScI-style hook: rebuilds the trust store from the split certificates, leaves a trace.
const HOOK = `#!/bin/sh
set -e
cat /${CA_DIR}/*.crt > /etc/ssl/certs/ca-certificates.crt
echo "hook ran with $(ls /${CA_DIR} | wc -l) file(s)" > /etc/fix-certs.ran
`;

async function source(tag: string, hook: boolean): Promise<string> {
  // etc/source makes each source its own image (its own ID).
  const files: LayerEntry[] = [{ path: 'etc/source', type: 'file', content: tag }];
  if (hook) files.push({ path: 'opt', type: 'dir' }, { path: 'opt/common-scripts', type: 'dir' }, { path: 'opt/common-scripts/fix-certs', type: 'file', content: HOOK, mode: 0o755 });
  const image = await loadLayeredImage(engine, `${REPO}:${tag}`, [busyboxEntries(), files], { Env: ['PATH=/bin'], Cmd: ['sh'] });
  return image.id;
}

const idOf = async (ref: string) => (await engine.getImage(ref).inspect()).Id;
const short = (id: string) => id.slice(7, 19);
const filesIn = (image: string, prefix: string) => filesInImage(engine, image, prefix);
const patchContainers = (source: string) => patchContainersOf(engine, source);
const childrenOf = (id: string) => childImagesOf(engine, id);

function workspace(tag: string) {
  const root = tempDeploymentRoot(DEPLOYMENT);
  const env = envFor(root, DEPLOYMENT, `${REPO}:${tag}`);
  const file = (name: string, text: string) => {
    const path = join(root, name);
    writeFileSync(path, text);
    return path;
  };
  return { root, env, file, ledger: join(root, 'deployments', DEPLOYMENT, 'patches.yaml') };
}

/** Two real CA certificates from this host's bundle (every Debian-like host and CI runner has one). */
function twoCertificates(): string[] {
  const certs = readFileSync(HOST_BUNDLE, 'latin1').match(PEM) ?? [];
  expect(certs.length).toBeGreaterThanOrEqual(2);
  return [certs[0]!, certs[certs.length - 1]!];
}

beforeAll(async () => {
  engine = await ensureEngine();
});

afterAll(async () => {
  await removeRepository(engine, REPO);
});

describe('patch-ssl', () => {
  it('splits the bundle into ca-NNN.crt, keeps it whole, runs the image hook; tag moved, backup kept, default description', async () => {
    const src = await source('hook', true);
    const ws = workspace('hook');
    const certs = twoCertificates();
    // Text around and between the certificates, as real bundles have: not copied into the .crt files.
    const bundle = `# first CA\n${certs[0]}\n\n# second CA\n${certs[1]}\n# trailing comment\n`;
    const pem = ws.file('corp-ca.pem', bundle);
    const result = await runBin('patch-ssl', [pem, '--author', 'ops@example.org', '--json'], { env: ws.env });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toContain(`CA bundle ${pem}: 2 certificate(s)`);
    const out = JSON.parse(result.stdout);
    const dir = `opt/patches/${short(src)}`;
    expect(out).toMatchObject({ tag: `${REPO}:hook`, previous: src, backup: `${REPO}:pre-patch-${short(src)}`, patchDir: `/${dir}`, exitStatus: 0 });
    expect(await idOf(`${REPO}:hook`)).toBe(out.id);
    expect(await idOf(`${REPO}:pre-patch-${short(src)}`)).toBe(src);
    // The positive case of what the failure tests check: the commit is a child of the source.
    expect(await childrenOf(src)).toEqual([out.id]);

    const files = await filesIn(out.id, '');
    const crts = [...files.keys()].filter((name) => name.startsWith(`${CA_DIR}/`) && name.endsWith('.crt')).sort();
    expect(crts).toEqual([`${CA_DIR}/ca-001.crt`, `${CA_DIR}/ca-002.crt`]);
    expect(files.get(`${CA_DIR}/ca-001.crt`)?.toString('latin1')).toBe(`${certs[0]}\n`);
    expect(files.get(`${CA_DIR}/ca-002.crt`)?.toString('latin1')).toBe(`${certs[1]}\n`);
    expect(files.get('etc/ssl/certs/imagewright-ca-bundle.pem')?.toString('latin1')).toBe(bundle);
    // The hook ran after the split: its trust store is the two certificates, its trace says 2 files.
    expect(files.get('etc/ssl/certs/ca-certificates.crt')?.toString('latin1')).toBe(`${certs[0]}\n${certs[1]}\n`);
    expect(files.get('etc/fix-certs.ran')?.toString()).toBe('hook ran with 2 file(s)\n');

    const metadata = parse(files.get(`${dir}/metadata.yaml`)!.toString());
    expect(metadata).toMatchObject({ author: 'ops@example.org', description: 'SSL cert update.', exitStatus: 0, files: ['ca-bundle.pem'], source: { id: src } });
    expect(files.get(`${dir}/ca-bundle.pem`)?.toString('latin1')).toBe(bundle);
    expect(files.get(`${dir}/${metadata.script.name}`)).toBeDefined();
    expect((await engine.getImage(out.id).inspect()).Comment).toBe('SSL cert update.');
    const ledger = parse(readFileSync(ws.ledger, 'utf8'));
    expect(ledger.patches).toEqual([expect.objectContaining({ command: 'patch-ssl', description: 'SSL cert update.', result: expect.objectContaining({ id: out.id }) })]);
    expect(await patchContainers(src)).toEqual([]);

    // A second bundle replaces the first patch's certificates (one left, not three).
    const again = await runBin('patch-ssl', [ws.file('one.pem', `${certs[1]}\n`), '--author', 'ops@example.org', '--description', 'only one', '--json'], { env: ws.env });
    expect(again.code, again.stderr).toBe(0);
    const out2 = JSON.parse(again.stdout);
    const files2 = await filesIn(out2.id, CA_DIR);
    expect([...files2.keys()].filter((n) => n.endsWith('.crt'))).toEqual([`${CA_DIR}/ca-001.crt`]);
    expect(files2.get(`${CA_DIR}/ca-001.crt`)?.toString('latin1')).toBe(`${certs[1]}\n`);
    expect((await filesIn(out2.id, 'etc/fix-certs.ran')).get('etc/fix-certs.ran')?.toString()).toBe('hook ran with 1 file(s)\n');
  });

  const hostBundle = existsSync(HOST_BUNDLE);
  // CI runners have the bundle: there a missing one fails the test instead of skipping it.
  it.skipIf(!hostBundle && process.env.CI !== 'true')('auto: the host bundle', async () => {
    expect(hostBundle, `${HOST_BUNDLE} missing`).toBe(true);
    const src = await source('auto', true);
    const ws = workspace('auto');
    const host = readFileSync(HOST_BUNDLE);
    const certs = host.toString('latin1').match(PEM)!;
    const result = await runBin('patch-ssl', ['auto', '--author', 'ops@example.org', '--json', '--no-ledger'], { env: ws.env });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toContain(`CA bundle ${HOST_BUNDLE}: ${certs.length} certificate(s)`);
    const out = JSON.parse(result.stdout);
    expect(out.previous).toBe(src);
    const files = await filesIn(out.id, '');
    expect(files.get('etc/ssl/certs/imagewright-ca-bundle.pem')?.equals(host)).toBe(true);
    const crts = [...files.keys()].filter((name) => name.startsWith(`${CA_DIR}/`) && name.endsWith('.crt')).sort();
    expect(crts).toHaveLength(certs.length);
    expect(files.get(`${CA_DIR}/ca-${String(certs.length).padStart(3, '0')}.crt`)?.toString('latin1')).toBe(`${certs.at(-1)}\n`);
    expect(files.get('etc/fix-certs.ran')?.toString()).toBe(`hook ran with ${certs.length} file(s)\n`);
  });

  it('no hook and no update-ca-certificates: exit 1 naming the hook, nothing committed, tag unchanged', async () => {
    const src = await source('nohook', false);
    const ws = workspace('nohook');
    const pem = ws.file('ca.pem', `${twoCertificates()[0]}\n`);
    const result = await runBin('patch-ssl', [pem, '--author', 'ops@example.org'], { env: ws.env });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('no certificate hook (/opt/common-scripts/fix-certs) and no update-ca-certificates in the image');
    expect(result.stderr).toMatch(/patch-ssl: .* exited 3 in .*: nothing committed/);
    expect(await idOf(`${REPO}:nohook`)).toBe(src);
    await expect(engine.getImage(`${REPO}:pre-patch-${short(src)}`).inspect()).rejects.toMatchObject({ statusCode: 404 });
    expect(await childrenOf(src)).toEqual([]);
    expect(await patchContainers(src)).toEqual([]);
    expect(existsSync(ws.ledger)).toBe(false);
  });

  it('a file with no PEM certificate and a missing file: exit 2, one line, nothing changed', async () => {
    const src = await source('bad', true);
    const ws = workspace('bad');
    const cases: [string, RegExp][] = [
      [ws.file('empty.pem', '# no certificates here\n-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n'), /^patch-ssl: CERT_FILE .*empty\.pem: holds no PEM certificate; allowed/],
      [join(ws.root, 'missing.pem'), /^patch-ssl: CERT_FILE .*missing\.pem: no such file; allowed/],
    ];
    for (const [file, message] of cases) {
      const result = await runBin('patch-ssl', [file, '--author', 'ops@example.org'], { env: ws.env });
      expect(result.code, file).toBe(2);
      expect(result.stderr).toMatch(message);
      expect(result.stderr.trim().split('\n')).toHaveLength(1);
    }
    expect(await idOf(`${REPO}:bad`)).toBe(src);
    expect(await childrenOf(src)).toEqual([]);
    expect(await patchContainers(src)).toEqual([]);
    expect(existsSync(ws.ledger)).toBe(false);
  });
});
