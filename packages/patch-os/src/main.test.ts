import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Engine } from '@imagewright/docker';
import { BUSYBOX_IMAGE, busyboxImage, CANARY, ensureEngine, envFor, heldBackDebianImage, patchContainersOf, runBin, runInImage, tempDeploymentRoot, removeRepository } from '@imagewright/testing';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// A debootstrap-based Debian image with imagewright-canary 1.0 installed and 2.0 offered by a
// local apt repository beside Debian's mirror: patch-os and patch-apt run real apt-get against it,
// and dpkg in a container of each result is the oracle.
const REPO = `imagewright-test/patch-os-${process.pid}`;
const DEPLOYMENT = 'osdep';
let engine: Engine;
let heldBack: string;

const short = (id: string) => id.slice(7, 19);
const idOf = async (ref: string) => (await engine.getImage(ref).inspect()).Id;

/** Installed packages as dpkg says in a container of IMAGE: name → version. */
async function dpkg(image: string): Promise<Map<string, string>> {
  const run = await runInImage(engine, image, ['dpkg-query', '-W', '-f', '${Package} ${Version}\\n']);
  expect(run.code, run.stderr).toBe(0);
  return new Map(run.stdout.trim().split('\n').map((line) => line.split(' ') as [string, string]));
}

function workspace(tag: string) {
  const root = tempDeploymentRoot(DEPLOYMENT);
  return { root, env: envFor(root, DEPLOYMENT, `${REPO}:${tag}`), ledger: join(root, 'deployments', DEPLOYMENT, 'patches.yaml') };
}

beforeAll(async () => {
  engine = await ensureEngine();
  heldBack = await heldBackDebianImage(engine);
});

afterAll(async () => {
  await removeRepository(engine, REPO);
});

describe('patch-os', () => {
  it('upgrades the held-back package with apt, says what changed (dpkg agrees), records it; image-patches shows it', async () => {
    await engine.getImage(heldBack).tag({ repo: REPO, tag: 'os' });
    const ws = workspace('os');
    const before = await dpkg(heldBack);
    expect(before.get(CANARY.name)).toBe(CANARY.installed);

    const result = await runBin('patch-os', ['--author', 'ops@example.org', '--json'], { env: ws.env });
    expect(result.code, result.stderr.slice(-3000)).toBe(0);
    const out = JSON.parse(result.stdout);
    expect(out).toMatchObject({ tag: `${REPO}:os`, previous: heldBack, backup: `${REPO}:pre-patch-${short(heldBack)}`, script: { name: 'apt-upgrade' } });
    expect(result.stderr).toMatch(/Setting up imagewright-canary \(2\.0\)/);

    // What patch-os says changed is what dpkg sees, before and after (the mirror may add real upgrades).
    const after = await dpkg(out.id);
    expect(after.get(CANARY.name)).toBe(CANARY.offered);
    const changed = [...new Set([...before.keys(), ...after.keys()])].filter((name) => before.get(name) !== after.get(name)).sort();
    expect(out.packages.map((p: { name: string }) => p.name).sort()).toEqual(changed);
    expect(out.packages).toContainEqual(expect.objectContaining({ name: CANARY.name, before: CANARY.installed, after: CANARY.offered }));
    for (const p of out.packages as { name: string; before?: string; after?: string }[]) {
      expect([p.before, p.after]).toEqual([before.get(p.name), after.get(p.name)]);
    }
    // apt's lists and caches are gone from the new layer.
    const lists = await runInImage(engine, out.id, ['sh', '-c', 'ls /var/lib/apt/lists | grep -v -x -e lock -e partial | wc -l; ls /var/cache/apt/archives/*.deb 2>/dev/null | wc -l']);
    expect(lists.stdout.split('\n').slice(0, 2)).toEqual(['0', '0']);

    const dir = `/opt/patches/${short(heldBack)}`;
    const record = await runInImage(engine, out.id, ['sh', '-c', `cat ${dir}/metadata.yaml; echo ---LOG---; cat ${dir}/patch.log`]);
    const [metadataText, log] = record.stdout.split('---LOG---\n');
    expect(parse(metadataText)).toMatchObject({ author: 'ops@example.org', description: 'OS update', exitStatus: 0, script: { name: 'apt-upgrade' }, source: { id: heldBack } });
    expect(log).toContain('apt-get dist-upgrade --yes');
    expect(log).toMatch(/Setting up imagewright-canary \(2\.0\)/);
    expect(await patchContainersOf(engine, heldBack)).toEqual([]);

    const ledger = parse(readFileSync(ws.ledger, 'utf8'));
    expect(ledger.patches[0]).toMatchObject({ command: 'patch-os', result: { id: out.id }, source: { id: heldBack } });
    expect(ledger.patches[0].packages).toContainEqual(expect.objectContaining({ name: CANARY.name, before: CANARY.installed, after: CANARY.offered }));

    const history = await runBin('image-patches', ['--json'], { env: ws.env });
    expect(history.code, history.stderr).toBe(0);
    expect(JSON.parse(history.stdout)).toEqual([expect.objectContaining({ dir, description: 'OS update', author: 'ops@example.org' })]);

    // The human form: a PACKAGE BEFORE AFTER table on stdout, then DEST and the ID.
    await engine.getImage(heldBack).tag({ repo: REPO, tag: 'os-table' });
    const table = await runBin('patch-os', ['--author', 'ops@example.org', '--no-ledger', '--source', `${REPO}:os-table`], { env: ws.env });
    expect(table.code, table.stderr.slice(-2000)).toBe(0);
    const lines = table.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^PACKAGE\s+BEFORE\s+AFTER$/);
    expect(lines).toContainEqual(expect.stringMatching(/^imagewright-canary\s+1\.0\s+2\.0$/));
    expect(lines.at(-1)).toMatch(new RegExp(`^${REPO}:os-table sha256:[0-9a-f]{64}$`));
  });

  it('patch-apt upgrades only the named package', async () => {
    await engine.getImage(heldBack).tag({ repo: REPO, tag: 'apt' });
    const ws = workspace('apt');
    const result = await runBin('patch-apt', [`${CANARY.name}=${CANARY.offered}`, '--author', 'ops@example.org', '--json'], { env: ws.env });
    expect(result.code, result.stderr.slice(-3000)).toBe(0);
    const out = JSON.parse(result.stdout);
    expect(out.packages).toEqual([{ name: CANARY.name, architecture: 'all', before: CANARY.installed, after: CANARY.offered }]);
    expect((await dpkg(out.id)).get(CANARY.name)).toBe(CANARY.offered);
    expect(parse(readFileSync(ws.ledger, 'utf8')).patches[0]).toMatchObject({ command: 'patch-apt', description: `apt: ${CANARY.name}=${CANARY.offered}` });

    const bad = await runBin('patch-apt', ['bad;rm -rf /', '--author', 'ops@example.org'], { env: ws.env });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^patch-apt: PACKAGE "bad;rm -rf \/": allowed NAME or NAME=VERSION/);
  });

  it('an image with no package manager: exit 2, one line, nothing changed', async () => {
    const busybox = await busyboxImage(engine, BUSYBOX_IMAGE);
    await engine.getImage(busybox).tag({ repo: REPO, tag: 'busybox' });
    const ws = workspace('busybox');
    const result = await runBin('patch-os', ['--author', 'ops@example.org'], { env: ws.env });
    expect(result.code).toBe(2);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(/knows Debian\/Ubuntu \(apt\) and Alpine \(apk\) images; this one has neither/);
    expect(await idOf(`${REPO}:busybox`)).toBe(busybox);
    expect(await patchContainersOf(engine, busybox)).toEqual([]);
  });
});
