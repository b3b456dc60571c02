import { spawnSync } from 'node:child_process';
import { dirname } from 'node:path';
import type { Engine } from '@imagewright/docker';
import { busyboxImage, BUSYBOX_IMAGE, dockerCli, ensureEngine, runBin } from '@imagewright/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// An image with every metadata field holding what breaks naive quoting is made through the
// Engine API (a container created with that config, committed). The printed command is run by
// bash on a `docker export` of a container from it; the docker CLI's inspect is the oracle.
const NASTY = `imagewright-test/nasty:squash-build-cmd-${process.pid}`;
const CONFIG = {
  Env: ['PATH=/bin', 'SPACES=a b  c', `QUOTES=it's "quoted"`, 'DOLLAR=$HOME ${X} $(id) `id`', 'BACKSLASH=C:\\dir\\ end\\', 'EMPTY=', 'EQ=a=b'],
  Entrypoint: ['/bin/sh', '-c', 'echo "$0" \'$1\'', 'x y'],
  Cmd: ['arg with space', "it's", '$HOME', 'back\\slash', 'new\nline'],
  User: 'nobody',
  WorkingDir: "/work dir/it's",
  Labels: { 'org.opencontainers.image.title': 'Nasty "image"', "it's a key": 'va$lue \\ end', empty: '' },
  ExposedPorts: { '8888/tcp': {}, '53/udp': {} },
  Volumes: { '/data': {}, '/with space': {}, "/quote'd": {}, '/$dollar': {} },
  StopSignal: 'SIGINT',
  OnBuild: ['RUN echo "$X" \'y\'', 'ENV A=b'],
  Healthcheck: { Test: ['CMD', 'sh', '-c', 'exit 0'], Interval: 30e9, Timeout: 1.5e9, StartPeriod: 5e9, Retries: 4 },
};
const FIELDS = ['Env', 'Entrypoint', 'Cmd', 'User', 'WorkingDir', 'Labels', 'ExposedPorts', 'Volumes', 'OnBuild', 'Healthcheck', 'StopSignal'] as const;

let engine: Engine;
let api: string;
const containers: string[] = [];
const images: string[] = [];

const docker = (args: string[], input?: string) => {
  const r = spawnSync(dockerCli(), args, { encoding: 'utf8', input });
  if (r.status !== 0) throw new Error(`docker ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
};
const inspectConfig = (ref: string) => JSON.parse(docker(['image', 'inspect', '--format', '{{json .Config}}', ref])) as Record<string, unknown>;

beforeAll(async () => {
  engine = await ensureEngine();
  await busyboxImage(engine);
  api = (await engine.version()).ApiVersion;
  const made = await engine.createContainer({ Image: BUSYBOX_IMAGE, ...CONFIG } as object);
  containers.push(made.id);
  const [repo, tag] = NASTY.split(/:(?=[^:]+$)/);
  await made.commit({ repo, tag });
  images.push(NASTY);
  // The oracle agrees the image holds every nasty value.
  const config = inspectConfig(NASTY);
  for (const field of FIELDS) expect(config[field], field).toEqual(CONFIG[field]);
});

afterAll(async () => {
  for (const id of containers) await engine?.getContainer(id).remove({ force: true, v: true }).catch(() => undefined);
  for (const ref of images.reverse()) await engine?.getImage(ref).remove({ force: true }).catch(() => undefined);
});

const buildCmd = (args: string[]) => runBin('squash-build-cmd', args);

/** The words bash makes of a line. */
const bashWords = (line: string): string[] => {
  const r = spawnSync('bash', ['-c', `set -- ${line.trimEnd()}; for w; do printf '%s\\0' "$w"; done`], { encoding: 'utf8' });
  expect(r.status).toBe(0);
  return r.stdout.split('\0').slice(0, -1);
};

const stopSignalCarried = () => {
  const [major, minor] = api.split('.').map(Number);
  return major > 1 || minor >= 42;
};

describe('squash-build-cmd', () => {
  it('the printed command, run by bash on a docker export, restores every metadata field', async () => {
    const r = await buildCmd([NASTY]);
    expect(r.code).toBe(0);
    const command = r.stdout.replace(/\n$/, '');
    expect(command).not.toContain('\n');
    expect(command).toMatch(/^docker import --change '.*' -$/);
    if (stopSignalCarried()) expect(r.stderr).toBe('');
    else expect(r.stderr).toMatch(/^not carried: STOPSIGNAL SIGINT: this Engine does not take STOPSIGNAL in docker import --change .*\n$/);

    const from = await engine.createContainer({ Image: NASTY });
    containers.push(from.id);
    const run = spawnSync('bash', ['-c', `set -o pipefail; docker export ${from.id} | ${command}`], {
      encoding: 'utf8',
      env: { ...process.env, PATH: `${dirname(dockerCli())}:${process.env.PATH}` },
    });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    const id = run.stdout.trim();
    expect(id).toMatch(/^sha256:[0-9a-f]{64}$/);
    images.push(id);

    const original = inspectConfig(NASTY);
    const restored = inspectConfig(id);
    for (const field of FIELDS) {
      if (field === 'StopSignal' && !stopSignalCarried()) expect(restored[field] ?? '', field).toBe('');
      else expect(restored[field], field).toEqual(original[field]);
    }
    // The filesystem came through too.
    expect(docker(['run', '--rm', '--entrypoint', '/bin/cat', id, '/etc/passwd'])).toMatch(/^root:x:0:0:/);
  });

  it('--json: the changes unquoted, the same words bash gets from the printed line', async () => {
    const json = await buildCmd(['--json', NASTY]);
    expect(json.code).toBe(0);
    const changes = JSON.parse(json.stdout) as string[];
    const words = bashWords((await buildCmd([NASTY])).stdout);
    expect(words.filter((_, i) => words[i - 1] === '--change')).toEqual(changes);
    expect(words.filter((w) => w === '--change')).toHaveLength(changes.length);
    // One change per ENV entry, label, port and trigger.
    const count = (instruction: string) => changes.filter((c) => c.startsWith(`${instruction} `)).length;
    expect([count('ENV'), count('LABEL'), count('EXPOSE'), count('ONBUILD'), count('VOLUME'), count('HEALTHCHECK')]).toEqual([7, 3, 2, 2, 1, 1]);
  });

  it('no ENTRYPOINT: none printed (never "None"); FILE after IMAGE, or after --image', async () => {
    const plain = await buildCmd([BUSYBOX_IMAGE, 'busy box.tar']);
    expect(plain).toMatchObject({ code: 0, stderr: '' });
    expect(plain.stdout).not.toMatch(/ENTRYPOINT|None/);
    expect(bashWords(plain.stdout)).toEqual(['docker', 'import', '--change', 'ENV PATH=/bin', '--change', 'CMD ["sh"]', 'busy box.tar']);
    const option = await buildCmd(['--image', BUSYBOX_IMAGE, 'out.tar']);
    expect(option.stdout).toBe(plain.stdout.replace("'busy box.tar'", 'out.tar'));
  });

  it('bad input: the image twice or empty (exit 2), an image the Engine lacks (exit 1), one line each', async () => {
    expect(await buildCmd(['--image', BUSYBOX_IMAGE, BUSYBOX_IMAGE, 'f'])).toMatchObject({ code: 2, stdout: '', stderr: expect.stringMatching(/^squash-build-cmd: the image is given twice .*\n$/) });
    expect(await buildCmd([''])).toMatchObject({ code: 2, stdout: '', stderr: expect.stringMatching(/^squash-build-cmd: IMAGE is empty: .*\n$/) });
    expect(await buildCmd(['a', 'b', 'c'])).toMatchObject({ code: 2, stdout: '' });
    const missing = await buildCmd([`imagewright-test/none:${process.pid}`]);
    expect(missing).toMatchObject({ code: 1, stdout: '' });
    expect(missing.stderr).toMatch(new RegExp(`^squash-build-cmd: image imagewright-test/none:${process.pid} not found locally: [^\\n]*\\n$`));
  });
});
