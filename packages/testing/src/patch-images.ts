import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { buildImage, imageIdOf, splitRef, type Engine } from '@imagewright/docker';
import tar from 'tar-stream';
import { envFor, runBin, tempDeploymentRoot } from './bin';
import { untarFiles } from './busybox';

/** The demo deployment's root: Debian bookworm minbase by debootstrap (image-base makes it). */
export const DEBIAN_ROOT = 'imagewright/debian:bookworm-minbase';
export const HELD_BACK_IMAGE = 'imagewright-test/held-back:bookworm';
/** The label a held-back image carries; bump the value when the recipe below changes. */
export const HELD_BACK_LABEL = { 'org.imagewright.test': 'held-back-1' };
export const CANARY = { name: 'imagewright-canary', installed: '1.0', offered: '2.0', repo: '/opt/imagewright-canary-repo' };

export interface ContainerResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Splits a non-TTY log stream (8-byte frame headers: stream, 0, 0, 0, big-endian length). */
function demux(raw: Buffer): { stdout: string; stderr: string } {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  for (let at = 0; at + 8 <= raw.length; ) {
    const size = raw.readUInt32BE(at + 4);
    (raw[at] === 2 ? err : out).push(raw.subarray(at + 8, at + 8 + size));
    at += 8 + size;
  }
  return { stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') };
}

/**
 * Runs `cmd` in a throwaway container of `image` (as root unless `user` says otherwise) and
 * resolves to its exit code and output. `before` runs on the created container before it starts
 * (putArchive), `after` once it has stopped (getArchive). The container is removed in all cases.
 */
export async function runInImage<T = undefined>(
  engine: Engine,
  image: string,
  cmd: string[],
  options: {
    user?: string;
    env?: string[];
    before?: (container: ReturnType<Engine['getContainer']>) => Promise<void>;
    after?: (container: ReturnType<Engine['getContainer']>, result: ContainerResult) => Promise<T>;
  } = {},
): Promise<ContainerResult & { after?: T }> {
  const container = await engine.createContainer({ Image: image, Cmd: cmd, User: options.user ?? '0', Env: options.env, Tty: false });
  try {
    await options.before?.(container);
    await container.start();
    const { StatusCode } = (await container.wait()) as { StatusCode: number };
    const logs = (await container.logs({ stdout: true, stderr: true, follow: false })) as unknown as Buffer;
    const result: ContainerResult = { code: StatusCode, ...demux(logs) };
    return { ...result, after: await options.after?.(container, result) };
  } finally {
    await container.remove({ force: true }).catch(() => undefined);
  }
}

/** Makes the Debian root the way the demo does (image-base, debootstrap from Debian's mirror). */
async function debianRoot(engine: Engine, tag: string): Promise<void> {
  if (await imageIdOf(engine, tag)) return;
  const root = tempDeploymentRoot('base', {
    'deployments/base/deployment.yaml': `root:\n  image: ${tag}\n  debootstrap:\n    suite: bookworm\n    variant: minbase\n    mirror: http://deb.debian.org/debian\n`,
  });
  try {
    const made = await runBin('image-base', [], { env: envFor(root, 'base', 'unused:latest') });
    if (made.code !== 0) throw new Error(`image-base could not make ${tag} (exit ${made.code}):\n${made.stderr.slice(-3000)}`);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

/**
 * Run inside the build (the Debian root has dpkg-deb and sha256sum; no host tools): two real
 * packages imagewright-canary 1.0 and 2.0, 1.0 installed, 2.0 in a flat apt repository in the
 * image, trusted, next to the normal Debian sources.
 */
const CANARY_SCRIPT = `#!/bin/sh
set -eu
work=$(mktemp -d)
repo=${CANARY.repo}
for version in ${CANARY.installed} ${CANARY.offered}; do
  pkg="$work/${CANARY.name}_$version"
  mkdir -p "$pkg/DEBIAN" "$pkg/usr/share/${CANARY.name}"
  echo "$version" > "$pkg/usr/share/${CANARY.name}/version"
  cat > "$pkg/DEBIAN/control" <<EOF
Package: ${CANARY.name}
Version: $version
Architecture: all
Maintainer: imagewright tests <tests@imagewright.invalid>
Section: misc
Priority: optional
Description: imagewright test canary
 Installed at an old version so that an upgrade has something to upgrade.
EOF
  dpkg-deb --root-owner-group --build "$pkg" "$work/${CANARY.name}_\${version}_all.deb" >/dev/null
done
dpkg -i "$work/${CANARY.name}_${CANARY.installed}_all.deb"
mkdir -p "$repo"
deb=${CANARY.name}_${CANARY.offered}_all.deb
cp "$work/$deb" "$repo/"
cd "$repo"
{
  dpkg-deb -f "$deb"
  echo "Filename: ./$deb"
  echo "Size: $(stat -c %s "$deb")"
  echo "SHA256: $(sha256sum "$deb" | cut -d' ' -f1)"
  echo
} > Packages
# apt accepts a flat repository without a Release file only with a warning: write one.
{
  echo "Origin: imagewright-tests"
  echo "Label: ${CANARY.name}"
  echo "Date: $(date -Ru)"
  echo "SHA256:"
  echo " $(sha256sum Packages | cut -d' ' -f1) $(stat -c %s Packages) Packages"
} > Release
echo "deb [trusted=yes] file:$repo ./" > /etc/apt/sources.list.d/${CANARY.name}.list
rm -rf "$work"
test "$(dpkg-query -W -f='\${Version}' ${CANARY.name})" = ${CANARY.installed}
`;

/**
 * A Debian bookworm image (debootstrap, FROM the demo's root) in which imagewright-canary 1.0 is
 * installed and 2.0 is offered by a local trusted apt repository: `apt-get update && apt-get
 * dist-upgrade` always has something to upgrade, whatever state Debian's mirror is in. Built
 * through the Engine untagged and tagged only once made (the tag never names a half-made image);
 * a tagged image with this recipe's label is reused. Resolves to the image ID.
 */
export async function heldBackDebianImage(engine: Engine, tag = HELD_BACK_IMAGE): Promise<string> {
  const [key, value] = Object.entries(HELD_BACK_LABEL)[0];
  try {
    const existing = await engine.getImage(tag).inspect();
    if (existing.Config?.Labels?.[key] === value) return existing.Id;
  } catch (error) {
    if ((error as { statusCode?: number }).statusCode !== 404) throw error;
  }
  await debianRoot(engine, DEBIAN_ROOT);
  const context = mkdtempSync(join(tmpdir(), 'imagewright-held-back-'));
  const log = new PassThrough();
  let output = '';
  log.on('data', (d: Buffer) => (output += d.toString('utf8')));
  try {
    writeFileSync(join(context, 'make-canary.sh'), CANARY_SCRIPT);
    writeFileSync(join(context, 'Dockerfile'), `FROM ${DEBIAN_ROOT}\nCOPY make-canary.sh /tmp/\nRUN sh /tmp/make-canary.sh && rm /tmp/make-canary.sh\n`);
    let id: string;
    try {
      id = await buildImage(engine, { context, labels: HELD_BACK_LABEL, output: log });
    } catch (error) {
      throw new Error(`build of ${tag} failed: ${(error as Error).message}\n${output.slice(-3000)}`);
    }
    const [repo, version] = splitRef(tag);
    await engine.getImage(id).tag({ repo, tag: version });
    return id;
  } finally {
    rmSync(context, { recursive: true, force: true });
  }
}

/**
 * Builds `<name>-<version>-py3-none-any.whl` from a one-module project (`<name>/__init__.py` =
 * `init`) in a throwaway container of `image` (python3 with pip, setuptools and wheel; offline:
 * --no-index, --no-build-isolation) and copies it to `outDir`. Resolves to its host path.
 */
export async function buildWheel(engine: Engine, image: string, project: { name: string; version: string; init: string }, outDir: string): Promise<string> {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(project.name)) throw new Error(`buildWheel: ${JSON.stringify(project.name)} is not a Python module name`);
  const pyproject = [
    '[build-system]',
    'requires = ["setuptools"]',
    'build-backend = "setuptools.build_meta"',
    '',
    '[project]',
    `name = "${project.name}"`,
    `version = "${project.version}"`,
    '',
  ].join('\n');
  const pack = tar.pack();
  for (const dir of ['wheel-src/', `wheel-src/${project.name}/`, 'wheel-out/']) pack.entry({ name: dir, type: 'directory', mode: 0o755 });
  pack.entry({ name: 'wheel-src/pyproject.toml', mode: 0o644 }, pyproject);
  pack.entry({ name: `wheel-src/${project.name}/__init__.py`, mode: 0o644 }, project.init);
  pack.finalize();
  const cmd = ['python3', '-m', 'pip', 'wheel', '--no-index', '--no-build-isolation', '--no-deps', '--no-cache-dir', '-w', '/tmp/wheel-out', '/tmp/wheel-src'];
  const run = await runInImage(engine, image, cmd, {
    env: ['PIP_DISABLE_PIP_VERSION_CHECK=1'],
    before: async (container) => {
      await container.putArchive(pack as unknown as NodeJS.ReadableStream, { path: '/tmp' });
    },
    after: async (container, result) =>
      result.code === 0 ? untarFiles((await container.getArchive({ path: '/tmp/wheel-out' })) as unknown as NodeJS.ReadableStream) : undefined,
  });
  if (run.code !== 0) throw new Error(`pip wheel of ${project.name} ${project.version} in ${image} failed (exit ${run.code}):\n${(run.stdout + run.stderr).slice(-3000)}`);
  const wheels = [...run.after!.entries()].filter(([name]) => name.endsWith('.whl'));
  if (wheels.length !== 1) throw new Error(`pip wheel of ${project.name} left ${wheels.length} wheels: ${wheels.map(([n]) => n).join(', ')}`);
  const [name, body] = wheels[0];
  // setuptools replaces a version it cannot parse by 0.0.0 with only a warning; normalizes others.
  const wheel = name.split('/').pop()!;
  const expected = `${project.name}-${project.version}-py3-none-any.whl`;
  if (wheel !== expected) throw new Error(`pip wheel of ${project.name} ${project.version} made ${wheel}, not ${expected} (give a normalized PEP 440 version)`);
  mkdirSync(outDir, { recursive: true });
  const path = join(outDir, wheel);
  writeFileSync(path, body);
  return path;
}

/** The files under `prefix` in IMAGE, from `docker export` of a container (the Engine's own merge). */
export async function filesInImage(engine: Engine, image: string, prefix: string): Promise<Map<string, Buffer>> {
  const container = await engine.createContainer({ Image: image, Cmd: ['true'], Entrypoint: [] });
  try {
    const all = await untarFiles((await container.export()) as unknown as NodeJS.ReadableStream);
    return new Map([...all].filter(([name]) => name.startsWith(prefix)));
  } finally {
    await container.remove({ force: true });
  }
}

/**
 * Patch containers of SOURCE still there (patch-image names them imagewright-patch-<short id>-<pid>):
 * per source, so tests running at the same time do not see each other's.
 */
export async function patchContainersOf(engine: Engine, source: string): Promise<string[]> {
  const prefix = `/imagewright-patch-${source.replace(/^sha256:/, '').slice(0, 12)}-`;
  return (await engine.listContainers({ all: true })).filter((c) => c.Names.some((n) => n.startsWith(prefix))).map((c) => c.Id);
}

/** Images committed on top of ID (docker commit records the container's image as the parent). */
export async function childImagesOf(engine: Engine, id: string): Promise<string[]> {
  return (await engine.listImages({ all: true })).filter((i) => i.ParentId === id).map((i) => i.Id);
}

/** Removes every tag of REPO (a test's own repository: its sources, results and backups). */
export async function removeRepository(engine: Engine, repo: string): Promise<void> {
  const tags = (await engine.listImages()).flatMap((i) => i.RepoTags ?? []).filter((t) => t.startsWith(`${repo}:`));
  for (const ref of tags) await engine.getImage(ref).remove({ force: true }).catch(() => undefined);
}
