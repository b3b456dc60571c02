import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildImage, imageIdOf, type Engine } from '@imagewright/docker';
import {
  BUSYBOX_IMAGE,
  busyboxImage,
  dockerConfigWith,
  ensureEngine,
  labelledImage,
  REPO_ROOT,
  runBin,
  skopeo,
  startEcrFixture,
  startFaultyProxy,
  startRegistry,
  startRegistryFixture,
  type Ecr,
  type EcrFixture,
  type Fault,
  type PlainRegistryFixture,
  type Registry,
} from '@imagewright/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// The built bin against the real Engine, a real registry (docker-registry, htpasswd) and skopeo as the
// independent client that checks what landed.
let engine: Engine;
let fx: PlainRegistryFixture;
let registry: Registry;
/** A DOCKER_CONFIG holding the registry's credentials, as `docker login` (or image-login) leaves it. */
let loggedIn: string;
const RUN = `push${process.pid}`;
const BIG = `imagewright-test/${RUN}-layers:1`;
const madeTags: string[] = [];

/** Config for a push of `repo` (IMAGE_TAG `tag`) to `host`, image IDs un-prefixed as image-configure writes them. */
const envFor = (host: string, repo: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({
  ...fx.env,
  PERSONAL_IMAGE: '1',
  REGISTRY: host,
  IMAGE_REPO: repo,
  IMAGE_TAG: 'latest',
  ...extra,
});
const push = (args: string[], env: NodeJS.ProcessEnv, options: { signalWhen?: { text: string; signal: NodeJS.Signals } } = {}) => {
  madeTags.push(`${env.REGISTRY}/${env.IMAGE_REPO}`);
  return runBin('image-push', args, { env, ...options });
};
const oneLine = (text: string) => expect(text.trimEnd().split('\n')).toHaveLength(1);

/** Several layers of random bytes (gzip can't shrink them): a push that takes a while. */
async function layeredImage(): Promise<string> {
  if (await imageIdOf(engine, BIG)) return BIG;
  const context = mkdtempSync(join(tmpdir(), 'imagewright-layers-'));
  const layers = [1, 40, 40, 40].map((mb, i) => `RUN head -c ${mb * 1_000_000} /dev/urandom > /layer${i}`);
  writeFileSync(join(context, 'Dockerfile'), [`FROM ${BUSYBOX_IMAGE}`, ...layers, ''].join('\n'));
  const id = await buildImage(engine, { context, output: { write: () => true } as never });
  const [repo, tag] = BIG.split(':');
  await engine.getImage(id).tag({ repo, tag });
  return BIG;
}

beforeAll(async () => {
  engine = await ensureEngine();
  await busyboxImage(engine);
  fx = await startRegistryFixture();
  ({ registry, loggedIn } = fx);
});

afterAll(async () => {
  await fx?.stop();
  // Only the registry references this file's pushes tagged locally, and the layered image.
  const images = await engine.listImages();
  const ours = images.flatMap((i) => i.RepoTags ?? []).filter((t) => madeTags.some((r) => t.startsWith(`${r}:`)) || t === BIG);
  for (const tag of ours) await engine.getImage(tag).remove().catch(() => undefined);
});

describe('image-push', () => {
  it('pushes IMAGE_ID as <registry>/<IMAGE_REPO>:<IMAGE_TAG> and prints REF DIGEST; skopeo sees that digest', async () => {
    const env = envFor(registry.host, 'imagewright-test/busybox');
    const before = await imageIdOf(engine, BUSYBOX_IMAGE);
    const r = await push([], env);
    expect(r.code, r.stderr).toBe(0);
    const ref = `${registry.host}/imagewright-test/busybox:latest`;
    expect(r.stdout).toMatch(new RegExp(`^${ref.replace(/[.]/g, '\\.')} sha256:[0-9a-f]{64}\\n$`));
    const digest = r.stdout.trim().split(' ')[1];
    expect(skopeo.digest(loggedIn, ref)).toBe(digest);
    // Plain progress lines in a pipe, one per layer state, no bars.
    expect(r.stderr).toMatch(/^[0-9a-f]{12}: (Pushed|Layer already exists)$/m);
    expect(r.stderr).not.toContain('[=');
    // The push reference is a new local tag of the same image; IMAGE_ID did not move.
    expect(await imageIdOf(engine, ref)).toBe(before);
    expect(await imageIdOf(engine, BUSYBOX_IMAGE)).toBe(before);
  });

  it('draws per-layer progress bars on a terminal (plain lines in a pipe, above)', async () => {
    // A registry of its own: nothing to mount from, so the layer is really uploaded.
    const fresh = await startRegistry();
    try {
      const env = envFor(fresh.host, `${RUN}/tty`, { DOCKER_CONFIG: dockerConfigWith({ [fresh.host]: fresh }) });
      madeTags.push(`${fresh.host}/${RUN}/tty`);
      const main = join(REPO_ROOT, 'packages', 'image-push', 'dist', 'main.js');
      // script(1) gives the command a pseudo-terminal; its output is what the terminal showed.
      const shown = await new Promise<{ code: number | null; text: string }>((resolve, reject) => {
        const child = spawn('script', ['-qec', `${main} ${BUSYBOX_IMAGE}`, '/dev/null'], {
          env: { PATH: process.env.PATH, HOME: process.env.HOME, TERM: 'xterm', ...(process.env.DOCKER_HOST ? { DOCKER_HOST: process.env.DOCKER_HOST } : {}), ...env },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let text = '';
        child.stdout.on('data', (d) => (text += d));
        child.on('error', reject);
        child.on('close', (code) => resolve({ code, text }));
      });
      expect(shown.code, shown.text).toBe(0);
      expect(shown.text).toMatch(/[0-9a-f]{12}: Pushing \[=*>? *\]/);
      // Lines are redrawn in place: cursor up, clear line.
      expect(shown.text).toContain('\x1b[2K');
      expect(shown.text).toMatch(new RegExp(`${fresh.host}/${RUN}/tty:latest sha256:[0-9a-f]{64}`));
    } finally {
      await fresh.stop();
    }
  });

  it('--also-tag puts the same manifest under more tags without a re-push; --json is {ref, digest, tags}', async () => {
    const env = envFor(registry.host, `${RUN}/also`);
    const r = await push(['--json', '--also-tag', 'latest-abc1234', '--also-tag', 'stable', BUSYBOX_IMAGE], env);
    expect(r.code, r.stderr).toBe(0);
    const result = JSON.parse(r.stdout) as { ref: string; digest: string; tags: string[] };
    expect(result).toEqual({ ref: `${registry.host}/${RUN}/also:latest`, digest: expect.stringMatching(/^sha256:/), tags: ['latest', 'latest-abc1234', 'stable'] });
    const repo = `${registry.host}/${RUN}/also`;
    expect(skopeo.tags(loggedIn, repo)).toEqual(['latest', 'latest-abc1234', 'stable']);
    for (const tag of result.tags) expect(skopeo.digest(loggedIn, `${repo}:${tag}`)).toBe(result.digest);
    // One push through the Engine: the extra tags are not pushed.
    expect(r.stderr.match(/The push refers to repository/g)).toHaveLength(1);
    // Without --json: one REF DIGEST line per tag.
    const plain = await push(['--also-tag', 'stable', BUSYBOX_IMAGE], env);
    expect(plain.stdout).toBe(`${repo}:latest ${result.digest}\n${repo}:stable ${result.digest}\n`);
  });

  it('with IMAGE_QUARANTINE=1 pushes unscanned-<tag>-<env> only; the approved tag is not made', async () => {
    const env = envFor(registry.host, `${RUN}/quarantine`, { IMAGE_QUARANTINE: '1', ENVIRONMENT: 'dev' });
    const r = await push([BUSYBOX_IMAGE], env);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^${registry.host}/${RUN}/quarantine:unscanned-latest-dev sha256:`));
    expect(skopeo.tags(loggedIn, `${registry.host}/${RUN}/quarantine`)).toEqual(['unscanned-latest-dev']);
    const help = await runBin('image-push', ['--help']);
    expect(help.stdout).toContain('unscanned-<IMAGE_TAG>-<ENVIRONMENT>');
  });

  it('takes the image positionally or with --image (another image, another digest)', async () => {
    const other = await labelledImage(engine, 'push-positional');
    const env = envFor(registry.host, `${RUN}/named`);
    const positional = await push([other], env);
    const option = await push(['--image', other], env);
    expect(positional.code, positional.stderr).toBe(0);
    expect(option.stdout).toBe(positional.stdout);
    expect(skopeo.digest(loggedIn, `${registry.host}/${RUN}/named:latest`)).toBe(positional.stdout.trim().split(' ')[1]);
    const busybox = await push([BUSYBOX_IMAGE], envFor(registry.host, `${RUN}/named`, { IMAGE_TAG: 'bb' }));
    expect(busybox.stdout.split(' ')[1]).not.toBe(positional.stdout.split(' ')[1]);
  });

  it('bad input is exit 2 with one line and nothing changed: no registry, no such image, a bad --also-tag', async () => {
    const noRegistry = await push([BUSYBOX_IMAGE], { ...envFor(registry.host, `${RUN}/bad`), REGISTRY: '' });
    expect(noRegistry).toMatchObject({ code: 2, stdout: '' });
    oneLine(noRegistry.stderr);
    expect(noRegistry.stderr).toMatch(/^image-push: no registry is configured: set REGISTRY/);

    const env = envFor(registry.host, `${RUN}/bad`);
    const absent = await push(['imagewright-test/no-such-image:none'], env);
    expect(absent).toMatchObject({ code: 2, stdout: '' });
    expect(absent.stderr).toMatch(/^image-push: image imagewright-test\/no-such-image:none is not in the Engine/);

    const badTag = await push(['--also-tag', 'bad:tag', BUSYBOX_IMAGE], env);
    expect(badTag).toMatchObject({ code: 2, stdout: '' });
    expect(badTag.stderr).toMatch(/^image-push: --also-tag "bad:tag" is invalid/);

    expect(await imageIdOf(engine, `${registry.host}/${RUN}/bad:latest`)).toBeUndefined();
    expect(() => skopeo.tags(loggedIn, `${registry.host}/${RUN}/bad`)).toThrow(/404|not found|unknown/i);
  });

  it('without credentials: exit 1, one line naming registry, repository and HTTP 401', async () => {
    const r = await push([BUSYBOX_IMAGE], envFor(registry.host, `${RUN}/noauth`, { DOCKER_CONFIG: mkdtempSync(join(tmpdir(), 'imagewright-empty-')) }));
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    const last = r.stderr.trimEnd().split('\n').pop();
    expect(last).toBe(`image-push: registry ${registry.host}: ${RUN}/noauth: push of ${registry.host}/${RUN}/noauth:latest: HTTP 401 Unauthorized`);
  });

  describe('through a registry that fails', () => {
    const manifestPut = (req: { method?: string }, path: string) => req.method === 'PUT' && path.includes('/manifests/');
    const denied = { errors: [{ code: 'DENIED', message: 'requested access to the resource is denied' }] };
    const unknown = { errors: [{ code: 'NAME_UNKNOWN', message: 'repository name not known to registry' }] };

    it.each([
      [403, { status: 403, body: denied }, 'HTTP 403 Forbidden'],
      [404, { status: 404, body: unknown }, 'HTTP 404 Not Found'],
      [401, { status: 401, body: { errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] } }, 'HTTP 401 Unauthorized'],
    ] as [number, Fault, string][])('a manifest PUT answered %i: exit 1, one line, no retry', async (_status, fault, said) => {
      let proxy: Awaited<ReturnType<typeof startFaultyProxy>> | undefined;
      try {
        proxy = await startFaultyProxy(registry.host, (req, path) => (manifestPut(req, path) ? fault : 'pass'));
        const env = envFor(proxy.host, `${RUN}/fail${_status}`, { DOCKER_CONFIG: dockerConfigWith({ [proxy.host]: registry }) });
        const r = await push([BUSYBOX_IMAGE], env);
        expect(r.code).toBe(1);
        const lines = r.stderr.trimEnd().split('\n');
        expect(lines.pop()).toBe(`image-push: registry ${proxy.host}: ${RUN}/fail${_status}: push of ${proxy.host}/${RUN}/fail${_status}:latest: ${said}`);
        expect(lines.filter((l) => l.startsWith('image-push:'))).toEqual([]);
        expect(proxy.seen.filter((s) => s.request.startsWith('PUT') && s.request.includes('/manifests/'))).toHaveLength(1);
      } finally {
        await proxy?.stop();
      }
    });

    it('retries transient failures (a 503, then a dropped connection) and completes', async () => {
      let manifestPuts = 0;
      const proxy = await startFaultyProxy(registry.host, (req, path) => {
        if (!manifestPut(req, path)) return 'pass';
        manifestPuts++;
        return manifestPuts === 1 ? { status: 503, body: 'upstream busy' } : manifestPuts === 2 ? 'reset' : 'pass';
      });
      try {
        const config = dockerConfigWith({ [proxy.host]: registry });
        const r = await push([BUSYBOX_IMAGE], envFor(proxy.host, `${RUN}/flaky`, { DOCKER_CONFIG: config }));
        expect(r.code, r.stderr).toBe(0);
        expect(r.stderr).toContain('image-push: HTTP 503 Service Unavailable; attempt 2 of 4 in 1s');
        expect(r.stderr).toMatch(/image-push: .*EOF.*; attempt 3 of 4 in 2s/);
        expect(manifestPuts).toBe(3);
        // skopeo asks the registry itself (its helper blocks this process, and so the proxy in it).
        expect(skopeo.digest(loggedIn, `${registry.host}/${RUN}/flaky:latest`)).toBe(r.stdout.trim().split(' ')[1]);
      } finally {
        await proxy.stop();
      }
    });

    it('gives up after the retries: exit 1, one line naming registry, repository and status', async () => {
      const proxy = await startFaultyProxy(registry.host, (req, path) => (manifestPut(req, path) ? { status: 502, body: 'bad gateway' } : 'pass'));
      try {
        const r = await push([BUSYBOX_IMAGE], envFor(proxy.host, `${RUN}/down`, { DOCKER_CONFIG: dockerConfigWith({ [proxy.host]: registry }) }));
        expect(r.code).toBe(1);
        expect(r.stdout).toBe('');
        expect(r.stderr.trimEnd().split('\n').pop()).toBe(`image-push: registry ${proxy.host}: ${RUN}/down: push of ${proxy.host}/${RUN}/down:latest: HTTP 502 Bad Gateway (after 4 tries)`);
        expect(proxy.seen.filter((s) => s.fault === 502)).toHaveLength(4);
      } finally {
        await proxy.stop();
      }
    });
  });

  it('a push interrupted mid-way (SIGINT) completes when run again: layers already there are skipped', async () => {
    const image = await layeredImage();
    const env = envFor(registry.host, `${RUN}/layers`);
    const ref = `${registry.host}/${RUN}/layers:latest`;
    const interrupted = await push([image], env, { signalWhen: { text: ': Pushed', signal: 'SIGINT' } });
    expect(interrupted.code).not.toBe(0);
    expect(interrupted.stdout).toBe('');
    // Some layer was pushed, but not the manifest: the tag is not there.
    expect(interrupted.stderr).toMatch(/: Pushed$/m);
    expect(() => skopeo.digest(loggedIn, ref)).toThrow();

    const again = await push([image], env);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toMatch(/: Layer already exists$/m);
    expect(skopeo.digest(loggedIn, ref)).toBe(again.stdout.trim().split(' ')[1]);
    const layers = (JSON.parse(skopeo.raw(loggedIn, ref).toString('utf8')) as { layers: unknown[] }).layers;
    expect(layers).toHaveLength(5);
  });
});

describe('image-push to ECR (the AWS stand-in, the unmodified SDK)', () => {
  let ecrFx: EcrFixture;
  let ecrRegistry: Registry;
  let ecr: Ecr;
  let env: NodeJS.ProcessEnv;
  beforeAll(async () => {
    ecrFx = await startEcrFixture();
    ({ registry: ecrRegistry, ecr } = ecrFx);
    // The fixture's DOCKER_CONFIG is empty, no stored credentials: the push must log in itself.
    env = { ...ecrFx.env, IMAGE_REPO: `${RUN}/ecr`, ENVIRONMENT: 'dev' };
  });
  afterAll(() => ecrFx?.stop());

  it('quarantined by default: pushes unscanned-latest-dev with a fresh token; --also-tag through PutImage', async () => {
    madeTags.push(`${ecrRegistry.host}/${RUN}/ecr`);
    const r = await runBin('image-push', ['--also-tag', 'unscanned-latest-dev-abc1234', BUSYBOX_IMAGE], { env });
    expect(r.code, r.stderr).toBe(0);
    const repo = `${ecrRegistry.host}/${RUN}/ecr`;
    const digest = r.stdout.split('\n')[0].split(' ')[1];
    expect(r.stdout).toBe(`${repo}:unscanned-latest-dev ${digest}\n${repo}:unscanned-latest-dev-abc1234 ${digest}\n`);
    const oracle = ecrFx.loggedIn;
    expect(skopeo.tags(oracle, repo)).toEqual(['unscanned-latest-dev', 'unscanned-latest-dev-abc1234']);
    expect(skopeo.digest(oracle, `${repo}:unscanned-latest-dev-abc1234`)).toBe(digest);
    const ops = ecr.calls.map((c) => c.operation);
    expect(ops).toEqual(expect.arrayContaining(['AssumeRole', 'GetAuthorizationToken', 'BatchGetImage', 'PutImage']));
    expect(ecr.calls.filter((c) => c.error)).toEqual([]);
    // The SDK's Node-version notice stays out of users' output.
    expect(r.stderr).not.toMatch(/NodeVersionSupportWarning|AWS SDK/);
  });
});
