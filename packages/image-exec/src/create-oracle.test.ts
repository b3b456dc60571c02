import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type Dockerode from 'dockerode';
import { type Engine, parseRunFlagArgs, toCreateOptions } from '@imagewright/docker';
import { BUSYBOX_IMAGE, busyboxImage, dockerCli, ensureEngine } from '@imagewright/testing';

/*
 * The oracle for our docker-run flag translation: for each flag, several value shapes, a container
 * made by the real CLI (`docker create FLAGS IMAGE true`, /usr/local/bin/docker 28.x, which talks
 * API 1.41 to this 20.10 Engine) and one made through the Engine API from
 * toCreateOptions(parseRunFlagArgs(FLAGS)) (created, never started: --gpus needs no GPU). Their
 * `docker inspect` Config and HostConfig must be equal, with only these differences allowed:
 *  - Config.Hostname when no -h is given: the Engine defaults it to the container's own ID;
 *  - HostConfig.Binds and Config.Env as sets: the CLI collects -v, and -e (for its proxy
 *    settings), in Go maps, so their order is random (the env-file-first order is a unit test);
 *  - empty lists and maps equal absent ones, and RestartPolicy "" equals "no": the CLI always
 *    sends its empty defaults (Dns: [], Ulimits: [], PortBindings: {}, RestartPolicy "no"...),
 *    we send nothing, and the Engine stores what it got.
 * Both run in the same folder with the same environment, so ./relative paths and `-e NAME`
 * resolve alike; DOCKER_CONFIG is an empty folder so no proxy settings of config.json are added.
 */

let engine: Engine;
let dir: string;
let env: NodeJS.ProcessEnv;
const RUN = randomUUID().slice(0, 8);
const LABEL = `imagewright.test=create-oracle-${RUN}`;
const VOLUMES = [1, 2, 3].map((n) => `iw-oracle-${RUN}-${n}`);
const made: string[] = [];

beforeAll(async () => {
  engine = await ensureEngine();
  await busyboxImage(engine);
  dir = mkdtempSync(join(tmpdir(), 'imagewright-oracle-'));
  mkdirSync(join(dir, 'bind-src'));
  mkdirSync(join(dir, 'a,b'));
  // BOM, CRLF, comments, blank lines, leading blanks, NAME alone (set and unset), quotes kept.
  writeFileSync(join(dir, 'vars.env'), '\uFEFF# settings\r\n\r\n  A=1\r\nB= spaced \nORACLE_FROM_ENV\nORACLE_UNSET\nC="quoted"\n#D=no\nE=a=b');
  writeFileSync(join(dir, 'more.env'), 'A=2\nF=\n');
  writeFileSync(join(dir, 'profile.json'), '{\n  "defaultAction": "SCMP_ACT_ALLOW",\n  "syscalls": [ { "names": [ "mkdir" ], "action": "SCMP_ACT_ERRNO" } ]\n}\n');
  env = { ...process.env, DOCKER_CONFIG: mkdtempSync(join(tmpdir(), 'imagewright-oracle-config-')), ORACLE_FROM_ENV: 'from the environment' };
  delete env.ORACLE_UNSET;
});

afterAll(async () => {
  if (!engine) return;
  const left = await engine.listContainers({ all: true, filters: { label: [LABEL] } });
  await Promise.all([...new Set([...made, ...left.map((c) => c.Id)])].map((id) => engine.getContainer(id).remove({ force: true, v: true }).catch(() => undefined)));
  for (const name of VOLUMES) await engine.getVolume(name).remove().catch(() => undefined);
});

type Inspect = Dockerode.ContainerInspectInfo;

async function cliCreate(words: string[]): Promise<Inspect> {
  const id = execFileSync(dockerCli(), ['create', '--label', LABEL, ...words, BUSYBOX_IMAGE, 'true'], { cwd: dir, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
  made.push(id);
  return engine.getContainer(id).inspect();
}

async function ourCreate(words: string[]): Promise<Inspect> {
  const flags = parseRunFlagArgs(['--label', LABEL, ...words], { env, cwd: dir, source: 'oracle' });
  const body = toCreateOptions(flags, { image: BUSYBOX_IMAGE, cmd: ['true'], cwd: dir });
  // As runContainer sends it: name and platform in the query, everything else in the body.
  const query = Object.fromEntries(Object.entries({ name: body.name, platform: body.platform }).filter(([, v]) => v !== undefined));
  const container = await engine.createContainer({ _query: query, _body: body } as Dockerode.ContainerCreateOptions);
  made.push(container.id);
  return container.inspect();
}

/** Empty lists and maps as absent (see above); everything else untouched. */
function emptyAsAbsent(value: unknown): unknown {
  if (Array.isArray(value)) return value.length ? value.map(emptyAsAbsent) : null;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value).map(([k, v]) => [k, emptyAsAbsent(v)] as const);
    return entries.length ? Object.fromEntries(entries) : null;
  }
  return value;
}

function comparable(inspect: Inspect): unknown {
  const config = { ...inspect.Config };
  if (config.Hostname === inspect.Id.slice(0, 12)) config.Hostname = '<the container ID>';
  const host = { ...inspect.HostConfig } as Record<string, unknown> & Dockerode.HostConfig;
  if (host.Binds) host.Binds = [...host.Binds].sort();
  if (config.Env) config.Env = [...config.Env].sort();
  if (host.RestartPolicy?.Name === '') host.RestartPolicy = { ...host.RestartPolicy, Name: 'no' };
  return emptyAsAbsent({ Config: config, HostConfig: host });
}

/** Flags per case; a function when the two containers need different words (their names). */
type Words = string[] | ((side: 'cli' | 'ours') => string[]);

const CASES: Record<string, Words[]> = {
  'no flags': [[]],
  '--rm': [['--rm'], ['--rm=false']],
  '-e/--env': [['-e', 'A=1', '--env', 'B=two  words', '-e', 'ORACLE_FROM_ENV', '-e', 'ORACLE_UNSET', '-e', 'EMPTY=', '--env=A=2']],
  '--env-file': [['--env-file', 'vars.env'], ['--env-file', 'vars.env', '--env-file=./more.env', '-e', 'A=last', '-e', 'ORACLE_FROM_ENV']],
  '-p/--publish': [
    ['-p', '8888:8888', '-p', '127.0.0.1:9000:9000/udp', '-p', '8889:8888'],
    ['-p', '7000-7001:7000-7001', '-p', '6000', '--publish=[::1]:5000:5000/sctp', '-p', '9100-9110:80', '-p', '127.0.0.1::8080'],
  ],
  '-v/--volume': [
    ['-v', '/tmp:/host-tmp:ro', '-v', './bind-src:/rel', '-v', '.:/cwd:rw'],
    ['-v', `${VOLUMES[0]}:/vol`, '-v', '/anon', '--volume=../:/parent:ro'],
  ],
  '--mount (bind)': [
    ['--mount', 'type=bind,src=./bind-src,dst=/b,readonly', '--mount', 'type=bind,source=/tmp,target=/t,bind-propagation=rslave'],
    ['--mount', 'type=bind,src=./bind-src,dst=/nr,bind-recursive=disabled,ro=true', '--mount', '"type=bind","src=./a,b",destination=/comma,consistency=CACHED'],
  ],
  '--mount (volume)': [
    ['--mount', `type=volume,src=${VOLUMES[1]},dst=/v,volume-label=team=x,volume-nocopy`, '--mount', 'target=/anonymous'],
    ['--mount', `TYPE=Volume,source=${VOLUMES[2]},target=/o,volume-driver=local,volume-opt=type=tmpfs,volume-opt=device=tmpfs,readonly`],
  ],
  '--mount (tmpfs)': [['--mount', 'type=tmpfs,dst=/t,tmpfs-size=64m,tmpfs-mode=1770', '--mount', 'type=tmpfs,destination=/t2']],
  '--tmpfs': [['--tmpfs', '/run'], ['--tmpfs', '/scratch:rw,size=1g,mode=1777', '--tmpfs=/run:size=1m']],
  '-l/--label': [['-l', 'team=x', '--label', 'flag', '-l', 'a=b=c']],
  '-u/--user': [['-u', '1000:100'], ['--user=nobody']],
  '-w/--workdir': [['-w', '/tmp'], ['--workdir=/new/dir']],
  '--name': [(side) => ['--name', `iw-oracle-${RUN}-${side}`]],
  '-i/-t': [['-i', '-t'], ['-it'], ['--interactive=true']],
  '--entrypoint': [['--entrypoint', '/bin/sh'], ['--entrypoint', ''], ['--entrypoint=']],
  '--network/--net': [['--network', 'host'], ['--net=none'], ['--network', 'bridge']],
  '-h/--hostname': [['-h', 'myhost'], ['--hostname=a.b-c']],
  '--privileged': [['--privileged'], ['--privileged=false']],
  '--init': [['--init'], ['--init=false']],
  '--platform': [['--platform', 'linux/amd64'], ['--platform=linux']],
  '--gpus': [
    ['--gpus', 'all'],
    ['--gpus', '2'],
    ['--gpus', '"device=0,1"'],
    ['--gpus', 'device=0,1'],
    ['--gpus', 'device=GPU-3a2b'],
    ['--gpus', '"capabilities=compute,utility",driver=nvidia'],
    ['--gpus=count=1,"options=a=b,c"', '--gpus', 'all,2'],
  ],
  '--device': [['--device', '/dev/null', '--device', '/dev/zero:/dev/z:r', '--device', '/dev/full:rw'], ['--device', '/dev/urandom/', '--device=/dev/null:/dev/n/', '--device', 'nvidia.com/gpu=all']],
  '--shm-size': [['--shm-size', '64m'], ['--shm-size', '1.5g'], ['--shm-size=1048576'], ['--shm-size', '512KiB']],
  '-m/--memory, --memory-swap': [['-m', '512M'], ['--memory=1g', '--memory-swap', '2g'], ['-m', '100000000', '--memory-swap=-1'], ['--memory', '6.5m']],
  '--cpus': [['--cpus', '1.5'], ['--cpus=0.25'], ['--cpus', '3/2'], ['--cpus', '2.5e-1']],
  '--ulimit': [['--ulimit', 'nofile=1024:2048', '--ulimit', 'nproc=100'], ['--ulimit', 'core=-1', '--ulimit=memlock=-1:-1', '--ulimit', 'nofile=4096', '--ulimit', 'nofile=5:10']],
  '--cap-add/--cap-drop': [
    ['--cap-add', 'net_admin', '--cap-add', 'SYS_PTRACE', '--cap-add', 'CAP_NET_ADMIN', '--cap-drop', 'mknod', '--cap-drop=CAP_CHOWN'],
    ['--cap-add', 'ALL', '--cap-drop', 'all'],
  ],
  '--ipc': [['--ipc', 'host'], ['--ipc=none'], ['--ipc', 'shareable'], ['--ipc', 'private']],
  '--add-host': [['--add-host', 'a:1.2.3.4', '--add-host', 'b=::1'], ['--add-host', 'c:[::2]', '--add-host=d:host-gateway', '--add-host', 'e:::ffff:1.2.3.4']],
  '--security-opt': [
    ['--security-opt', 'no-new-privileges', '--security-opt', 'label=disable'],
    ['--security-opt', 'no-new-privileges:true', '--security-opt', 'apparmor=unconfined', '--security-opt', 'seccomp=profile.json'],
    ['--security-opt', 'seccomp=unconfined', '--security-opt=systempaths=unconfined'],
  ],
  '--group-add': [['--group-add', 'audio', '--group-add', '100']],
  '--pull': [['--pull', 'never'], ['--pull=missing']],
};

describe('docker create and our translation make the same container', () => {
  for (const [flag, shapes] of Object.entries(CASES)) {
    it(flag, async () => {
      for (const words of shapes) {
        const cli = await cliCreate(typeof words === 'function' ? words('cli') : words);
        const ours = await ourCreate(typeof words === 'function' ? words('ours') : words);
        expect(comparable(ours), JSON.stringify(typeof words === 'function' ? words('ours') : words)).toEqual(comparable(cli));
      }
    });
  }

  it('the comparison sees a difference in a value (the oracle can fail)', async () => {
    const cli = await cliCreate(['-m', '512m', '--gpus', '"device=0,1"']);
    expect(comparable(await ourCreate(['-m', '256m', '--gpus', '"device=0,1"']))).not.toEqual(comparable(cli));
    expect(comparable(await ourCreate(['-m', '512m', '--gpus', 'device=0,1']))).not.toEqual(comparable(cli));
    expect(comparable(await ourCreate(['-m', '512m', '--gpus', '"device=0,1"']))).toEqual(comparable(cli));
  });
});
