import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildImage, type Engine } from '@imagewright/docker';
import { BUSYBOX_IMAGE, busyboxImage, dockerCli, dockerConfigWith, ensureEngine, REPO_ROOT, runBin, skopeo, startRegistry, type Registry } from '@imagewright/testing';
import tar from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// The squash bin against the real Engine, a real registry and skopeo as the independent reader.
const REPO = `imagewright-test/squash-main-${process.pid}`;
const SRC = `${REPO}:src`;
let engine: Engine;
let srcId: string;
let busyboxId: string;
let work: string;

interface Inspect {
  Id: string;
  RepoTags: string[];
  Config: Record<string, unknown>;
  RootFS: { Layers: string[] };
}
const inspect = async (ref: string) => (await engine.getImage(ref).inspect()) as unknown as Inspect;
const FIELDS = ['Env', 'Entrypoint', 'Cmd', 'User', 'WorkingDir', 'Labels', 'ExposedPorts', 'Volumes', 'StopSignal', 'OnBuild', 'Healthcheck'];
const fields = (i: Inspect) => Object.fromEntries(FIELDS.map((f) => [f, i.Config[f] ?? null]));

/** The entries of a container export of `ref`: path → type/size/link target. */
async function exported(ref: string): Promise<Map<string, { type: string; size: number; linkname?: string }>> {
  const container = await engine.createContainer({ Image: ref, Cmd: ['true'] });
  try {
    const stream = (await container.export()) as unknown as NodeJS.ReadableStream;
    const entries = new Map<string, { type: string; size: number; linkname?: string }>();
    const extract = tar.extract();
    extract.on('entry', (header, body, next) => {
      entries.set(header.name.replace(/\/$/, ''), { type: header.type ?? 'null', size: header.size ?? 0, linkname: header.linkname ?? undefined });
      body.on('end', next);
      body.resume();
    });
    await new Promise((res, rej) => {
      extract.on('finish', res);
      extract.on('error', rej);
      stream.pipe(extract);
    });
    return entries;
  } finally {
    await container.remove({ force: true });
  }
}

function run(ref: string, command: string): string {
  return spawnSync(dockerCli(), ['run', '--rm', '--entrypoint', 'sh', ref, '-c', command], { encoding: 'utf8' }).stdout;
}

beforeAll(async () => {
  engine = await ensureEngine();
  busyboxId = await busyboxImage(engine);
  work = mkdtempSync(join(tmpdir(), 'squash-main-'));
  const context = join(work, 'context');
  mkdirSync(context);
  // Layers that overwrite, delete and duplicate, and every metadata field squash must keep.
  writeFileSync(
    join(context, 'Dockerfile'),
    [
      `FROM ${BUSYBOX_IMAGE}`,
      'RUN mkdir -p /data/keep /data/gone && cp /bin/busybox /data/one && echo old > /data/keep/f && echo bye > /data/gone/x',
      'RUN cp /bin/busybox /data/two && echo new > /data/keep/f && rm -r /data/gone && mkdir /empty',
      'ENV GREETING="hello world" QUOTE="it\'s \\"quoted\\" \\$HOME"',
      'LABEL org.example.a="one two" b=2',
      'EXPOSE 8080/tcp 53/udp',
      'VOLUME ["/vol"]',
      'USER 65534:65534',
      'WORKDIR /data',
      'STOPSIGNAL SIGINT',
      'ONBUILD RUN echo onbuild',
      'HEALTHCHECK --interval=31s --timeout=4s --retries=2 CMD true',
      'ENTRYPOINT ["sh", "-c"]',
      'CMD ["echo squashed"]',
      '',
    ].join('\n'),
  );
  srcId = await buildImage(engine, { context, output: new (require('node:stream').PassThrough)() });
  await engine.getImage(srcId).tag({ repo: REPO, tag: 'src' });
});

afterAll(async () => {
  const images = (await engine.listImages({ filters: JSON.stringify({ reference: [`${REPO}`] }) })) as Array<{ Id: string }>;
  for (const image of images) await engine.getImage(image.Id).remove({ force: true }).catch(() => undefined);
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('squash', () => {
  it('squashes to one layer into a new tag: same files, every config field, duplicates hard-linked', async () => {
    const result = await runBin('squash', [SRC, '-t', `${REPO}:flat`, '--json']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const report = JSON.parse(result.stdout);
    const flat = await inspect(`${REPO}:flat`);
    expect(report).toMatchObject({ source: SRC, destination: `${REPO}:flat`, id: flat.Id, layers: { before: 3, after: 1, kept: 0 }, via: 'container export' });
    expect(flat.RootFS.Layers).toEqual(report.diffIds);
    expect(flat.RootFS.Layers).toHaveLength(1);
    expect(fields(flat)).toEqual(fields(await inspect(SRC)));
    // /data/two duplicates /data/one: written once, linked once.
    expect(report.files.linked).toBeGreaterThanOrEqual(1);
    expect(report.bytes.savedByCrosslink).toBeGreaterThan(0);
    // The Engine's export left them out: what they took is the size lost beyond the hard links.
    expect(report.bytes.dropped).toBe(Math.max(0, report.size.before - report.size.after - report.bytes.savedByCrosslink));
    expect(report.files.dropped).toBeNull();
    const files = await exported(`${REPO}:flat`);
    // /data/one and /data/two are copies of /bin/busybox: one file, two links to it.
    const copies = ['bin/busybox', 'data/one', 'data/two'].map((p) => files.get(p)!);
    expect(copies.map((c) => c.type).sort()).toEqual(['file', 'link', 'link']);
    expect(files.has('data/gone')).toBe(false);
    expect(files.get('empty')?.type).toBe('directory');
    expect(files.has('.dockerenv')).toBe(true); // the Engine's own, in every container export
    expect(run(`${REPO}:flat`, 'cat /data/keep/f; cmp /data/one /data/two && echo same')).toBe('new\nsame\n');
    // The source is untouched and has no backup tag (DEST was a new tag).
    expect((await inspect(SRC)).Id).toBe(srcId);
    await expect(inspect(`${REPO}:pre-squash`)).rejects.toThrow();
  });

  it('in place: the tag moves only to the verified image, the source keeps <repo>:pre-squash', async () => {
    await engine.getImage(srcId).tag({ repo: REPO, tag: 'inplace' });
    const result = await runBin('squash', [`${REPO}:inplace`]);
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(/squash: 3 layers → 1, read .* via container export/);
    expect(result.stderr).toContain(`${REPO}:pre-squash keeps the previous image ${srcId.slice(7, 19)}`);
    expect((await inspect(`${REPO}:pre-squash`)).Id).toBe(srcId);
    const moved = await inspect(`${REPO}:inplace`);
    expect(moved.Id).not.toBe(srcId);
    expect(moved.RootFS.Layers).toHaveLength(1);
  });

  it('--keep-base 1 and --onto BASE keep the base layers shared, and read layers (docker save)', async () => {
    const kept = await runBin('squash', [SRC, '-t', `${REPO}:kept`, '--keep-base', '1', '--json']);
    expect(kept.stderr).toBe('');
    expect(kept.code).toBe(0);
    const onto = await runBin('squash', [SRC, '-t', `${REPO}:onto`, '--onto', BUSYBOX_IMAGE, '--json']);
    expect(onto.code).toBe(0);
    const base = await inspect(busyboxId);
    for (const ref of [`${REPO}:kept`, `${REPO}:onto`]) {
      const image = await inspect(ref);
      expect(image.RootFS.Layers).toHaveLength(2);
      expect(image.RootFS.Layers[0]).toBe(base.RootFS.Layers[0]);
      expect(fields(image)).toEqual(fields(await inspect(SRC)));
      expect(run(ref, 'cat /data/keep/f; ls /data')).toBe('new\nkeep\none\ntwo\n');
    }
    const report = JSON.parse(kept.stdout);
    expect(report).toMatchObject({ via: 'layers', layers: { before: 3, after: 2, kept: 1 } });
    // /data/gone and the old /data/keep/f, left out; /data/two, a link to /data/one.
    expect(report.files.dropped).toBeGreaterThanOrEqual(2);
    expect(report.bytes.dropped).toBeGreaterThan(0);
    expect(report.files.linked).toBeGreaterThanOrEqual(1);
    // The same merge either way: the same new layer.
    expect((await inspect(`${REPO}:kept`)).RootFS.Layers[1]).toBe((await inspect(`${REPO}:onto`)).RootFS.Layers[1]);
  });

  it('-o FILE writes an archive docker load and skopeo read; an OCI archive is a source', async () => {
    const file = join(work, 'flat.tar');
    const result = await runBin('squash', [SRC, '-o', file, '-t', `${REPO}:from-archive`]);
    expect(result.code).toBe(0);
    const inspected = JSON.parse(execSkopeo(['inspect', `docker-archive:${file}`]));
    expect(inspected.Layers).toHaveLength(1);
    const load = spawnSync(dockerCli(), ['load', '-i', file], { encoding: 'utf8' });
    expect(load.status).toBe(0);
    expect(load.stdout).toContain(`Loaded image: ${REPO}:from-archive`);
    // A device is written to, never renamed over: /dev/null stays /dev/null.
    expect((await runBin('squash', [SRC, '-o', '/dev/null'])).code).toBe(0);
    expect(statSync('/dev/null').isCharacterDevice()).toBe(true);
    const oci = join(work, 'src.oci.tar');
    execSkopeo(['copy', '-q', `docker-daemon:${SRC}`, `oci-archive:${oci}:src`]);
    const fromOci = await runBin('squash', [`oci-archive:${oci}`, '-t', `${REPO}:from-oci`, '--json']);
    expect(fromOci.stderr).toBe('');
    expect(fromOci.code).toBe(0);
    const image = await inspect(`${REPO}:from-oci`);
    expect(image.RootFS.Layers).toHaveLength(1);
    // OCI configs have no Healthcheck or OnBuild (skopeo drops them): compare with what the archive holds.
    const oci_ = JSON.parse(execSkopeo(['inspect', '--config', `oci-archive:${oci}`])).config;
    expect(fields(image)).toEqual(fields({ ...image, Config: { ...oci_, Healthcheck: null, OnBuild: null } }));
    expect(fields(image)).toEqual({ ...fields(await inspect(SRC)), Healthcheck: null, OnBuild: null });
    expect(run(`${REPO}:from-oci`, 'cat /data/keep/f')).toBe('new\n');
  });

  it('squash-export IMG | squash-import --from IMG -t IMG:flat: one layer, every field, the same files', async () => {
    const bin = (name: string) => join(REPO_ROOT, 'packages', name, 'dist', 'main.js');
    const piped = spawnSync('bash', ['-o', 'pipefail', '-c', `"${bin('squash-export')}" "$1" | "${bin('squash-import')}" --from "$1" -t "$1-piped" --json`, 'bash', SRC], { encoding: 'utf8' });
    expect(piped.status, piped.stderr).toBe(0);
    const report = JSON.parse(piped.stdout);
    const image = await inspect(`${SRC}-piped`);
    expect(report).toMatchObject({ destination: `${SRC}-piped`, id: image.Id });
    expect(image.RootFS.Layers).toEqual(report.diffIds);
    expect(image.RootFS.Layers).toHaveLength(1);
    expect(fields(image)).toEqual(fields(await inspect(SRC)));
    const files = await exported(`${SRC}-piped`);
    expect([...(await exported(SRC)).keys()].sort()).toEqual([...files.keys()].sort());
    expect(run(`${SRC}-piped`, 'cat /data/keep/f; cmp /data/one /data/two && echo same')).toBe('new\nsame\n');
    // A terminal is no place for a tar stream, and squash-import wants its two options.
    expect((await runBin('squash-import', ['--from', SRC])).stderr.trim()).toBe('squash-import: -t TAG is required: where the new image goes');
    expect((await runBin('squash-import', ['-t', 'x:y'])).code).toBe(2);
  });

  describe('registry → registry', () => {
    let registry: Registry;
    let config: string;
    beforeAll(async () => {
      registry = await startRegistry();
      config = dockerConfigWith({ [registry.host]: registry });
      skopeo.push(config, SRC, `${registry.host}/squash/src:1`);
    });
    afterAll(async () => {
      await registry?.stop();
    });

    it('streams blobs from one repository to another with no Engine; skopeo and a pull agree', async () => {
      const env = { DOCKER_CONFIG: config, DOCKER_HOST: 'unix:///nonexistent.sock' };
      const result = await runBin('squash', [`docker://${registry.host}/squash/src:1`, '-t', `docker://${registry.host}/squash/flat:1`, '--keep-base', '1', '--json'], { env });
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      const report = JSON.parse(result.stdout);
      const inspected = JSON.parse(skopeo.run(config, ['inspect', `docker://${registry.host}/squash/flat:1`]).toString('utf8'));
      expect(inspected.Layers).toHaveLength(2);
      expect(report.digest).toBe(skopeo.digest(config, `${registry.host}/squash/flat:1`));
      const pulled = `${registry.host}/squash/flat:1`;
      const pull = spawnSync(dockerCli(), ['pull', pulled], { encoding: 'utf8', env: { ...process.env, DOCKER_CONFIG: config } });
      expect(pull.status).toBe(0);
      expect((await inspect(pulled)).RootFS.Layers).toEqual(report.diffIds);
      expect(run(pulled, 'cat /data/keep/f')).toBe('new\n');
      await engine.getImage(pulled).remove({ force: true });
    });

    it('in place in the registry: the old manifest keeps the pre-squash tag', async () => {
      const before = skopeo.digest(config, `${registry.host}/squash/src:1`);
      const result = await runBin('squash', [`docker://${registry.host}/squash/src:1`, '--json'], { env: { DOCKER_CONFIG: config } });
      expect(result.code).toBe(0);
      expect(skopeo.digest(config, `${registry.host}/squash/src:pre-squash`)).toBe(before);
      expect(skopeo.digest(config, `${registry.host}/squash/src:1`)).toBe(JSON.parse(result.stdout).digest);
    });
  });

  it('bad input: one line naming it, exit 2, nothing made', async () => {
    // Other packages' tests share the Engine: count only what squash could have made here.
    const list = async (filters: object) => ((await engine.listImages({ filters: JSON.stringify(filters) })) as Array<{ Id: string; RepoTags?: string[] }>).map((i) => `${i.Id} ${i.RepoTags}`).sort();
    // Ours, and untagged ones carrying the source's label (what a half-made squash would leave).
    const ours = async () => JSON.stringify([await list({ reference: [REPO] }), await list({ dangling: ['true'], label: ['org.example.a'] })]);
    const before = await ours();
    const cases: Array<[string[], RegExp]> = [
      [[SRC, '--keep-base', 'two'], /^squash: --keep-base "two": allowed a whole number/],
      [[SRC, '--keep-base', '9'], /^squash: --keep-base 9: .* has 3 layers; allowed 0 to 2/],
      [[SRC, '--keep-base', '1', '--onto', BUSYBOX_IMAGE], /--keep-base.*--onto|--onto.*--keep-base/],
      [[SRC, '--onto', SRC], /nothing to squash/],
      [['ftp://x/y'], /^squash: IMAGE "ftp:\/\/x\/y": unknown transport ftp:\/\/; allowed REF/],
      [[SRC, '-t', 'oci:'], /^squash: -t "oci:": no path after oci:/],
      [[`${REPO}:does-not-exist`, '-t', `${REPO}:x`], /no such image/],
      [[srcId], /has no tag to write back to; allowed -t DEST or -o FILE/],
    ];
    for (const [args, message] of cases) {
      const result = await runBin('squash', args);
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stderr.trim().split('\n'), args.join(' ')).toHaveLength(1);
      expect(result.stderr.trim()).toMatch(message);
    }
    expect(await ours()).toBe(before);
  });

  it('kill -9 at a random moment: the tag is the source or the verified result, never half-made', async () => {
    await engine.getImage(srcId).tag({ repo: REPO, tag: 'killed' });
    const started = Date.now();
    const full = await runBin('squash', [SRC, '-t', `${REPO}:timing`]);
    expect(full.code).toBe(0);
    const duration = Date.now() - started;
    for (let round = 0; round < 3; round++) {
      await engine.getImage(srcId).tag({ repo: REPO, tag: 'killed' });
      const delay = Math.floor(Math.random() * duration * 0.9);
      const child = spawn(join(REPO_ROOT, 'packages', 'squash', 'dist', 'main.js'), [`${REPO}:killed`], { stdio: 'ignore' });
      // Listened for from the start: a run faster than the delay has closed before the kill.
      const closed = new Promise((r) => child.once('close', r));
      await new Promise((r) => setTimeout(r, delay));
      child.kill('SIGKILL');
      await closed;
      const now = await inspect(`${REPO}:killed`);
      if (now.Id !== srcId) {
        // It finished before the kill: then the result is complete and the source is backed up.
        expect(now.RootFS.Layers).toHaveLength(1);
        expect((await inspect(`${REPO}:pre-squash`)).Id).toBe(srcId);
      }
    }
    // The next run clears what a killed one left (its export container) and succeeds.
    const after = await runBin('squash', [`${REPO}:killed`, '-t', `${REPO}:after-kill`]);
    expect(after.code).toBe(0);
    const leftovers = await engine.listContainers({ all: true, filters: JSON.stringify({ label: ['imagewright.export'] }) });
    expect(leftovers).toEqual([]);
  });
});

function execSkopeo(args: string[]): string {
  const r = spawnSync('skopeo', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`skopeo ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}
