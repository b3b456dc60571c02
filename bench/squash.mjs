#!/usr/bin/env node
// bench/squash: squash of a synthetic conda-like image, against the original approach and against
// reading the image once, in the same run on the same image (issue #10).
//   layer 1: busybox + N files of 64 KiB random data under /opt/conda/pkgs
//   layer 2: the first N/2 of them copied twice, into /opt/conda/envs/a and /opt/conda/envs/b
//   layer 3: N/4 of the pkgs files (ones not copied) deleted
// (a) the original: crosslink in a container (sha256sum + ln), commit, export to a file, import
//     with --change, remove the file;  (b) docker save > /dev/null;  (c) squash (default path),
// and (c') squash reading `docker save` layers instead of a container export.
// Also: peak RSS of squash, bytes of temp files while it runs, result sizes, and (c) on an image
// with 10x the files (--scale 10; default on, --no-scale to skip).
// Usage: node bench/squash.mjs [--files N] [--rounds R] [--no-scale] [--json]
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createCipheriv, createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(join(root, 'packages/image/package.json'));
const tar = require('tar-stream');

const args = process.argv.slice(2);
if (args.includes('--help') || args.includes('-h')) {
  process.stdout.write('usage: node bench/squash.mjs [--files N] [--rounds R] [--no-scale] [--json] [--build-only]\n');
  process.exit(0);
}
const opt = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const FILES = opt('--files', 4000);
const ROUNDS = opt('--rounds', 3);
const SCALE = !args.includes('--no-scale');
const JSON_OUT = args.includes('--json');
const SQUASH = join(root, 'packages/squash/dist/main.js');
const docker = process.env.DOCKER_CLI || 'docker';
const log = (...a) => process.stderr.write(`${a.join(' ')}\n`);
if (!existsSync(SQUASH)) {
  log('bench/squash: build first (npx nx run-many -t build)');
  process.exit(2);
}

function sh(cmd, argv, options = {}) {
  const r = spawnSync(cmd, argv, { encoding: 'utf8', maxBuffer: 1 << 26, ...options });
  if (r.status !== 0) throw new Error(`${cmd} ${argv.join(' ')}: exit ${r.status}\n${r.stderr}`);
  return r.stdout;
}

const BLOCK = 64 * 1024;
const ZEROS = Buffer.alloc(BLOCK);
/** File i's 64 KiB: pseudo-random and reproducible (AES-CTR keyed by i), so copies need no memory. */
function content(i) {
  const key = createHash('sha256').update(`bench-${i}`).digest().subarray(0, 16);
  return createCipheriv('aes-128-ctr', key, Buffer.alloc(16)).update(ZEROS);
}
const padded = (n) => Math.ceil(n / 512) * 512;

/** A layer as a list of entries; its tar size is known before it is written (no PAX: short names). */
function layer(entries) {
  return { entries, size: entries.reduce((sum, e) => sum + 512 + padded(e.size ?? 0), 0) + 1024 };
}

/** Streams one layer tar into `out` (the archive's pack), hashing it; resolves its sha256. */
async function writeLayer(outer, name, l) {
  const hash = createHash('sha256');
  const inner = tar.pack();
  const sink = outer.entry({ name, size: l.size });
  inner.on('data', (c) => {
    hash.update(c);
    if (!sink.write(c)) {
      inner.pause();
      sink.once('drain', () => inner.resume());
    }
  });
  const ended = new Promise((r) => inner.on('end', r));
  for (const e of l.entries) {
    await new Promise((res, rej) => inner.entry(e.header, e.body?.(), (err) => (err ? rej(err) : res())));
  }
  inner.finalize();
  await ended;
  await new Promise((r) => sink.end(r));
  return `sha256:${hash.digest('hex')}`;
}

const dir = (name, mode = 0o755) => ({ header: { name, type: 'directory', mode } });
const file = (name, size, body, mode = 0o644) => ({ header: { name, size, mode }, size, body });

/** Builds the image with `docker load` of a hand-made archive streamed to it: the layers are exactly these. */
async function buildImage(tag, files) {
  const name = (i) => `f${String(i).padStart(6, '0')}`;
  const busybox = readFileSync('/bin/busybox');
  const l1 = layer([
    ...['bin/', 'tmp/', 'opt/', 'opt/conda/', 'opt/conda/pkgs/'].map((d) => dir(d, d === 'tmp/' ? 0o1777 : 0o755)),
    file('bin/busybox', busybox.length, () => busybox, 0o755),
    ...['sh', 'find', 'xargs', 'sha256sum', 'sort', 'awk', 'ln', 'sleep', 'true'].map((a) => ({ header: { name: `bin/${a}`, type: 'symlink', linkname: 'busybox' } })),
    ...Array.from({ length: files }, (_, i) => file(`opt/conda/pkgs/${name(i)}`, BLOCK, () => content(i))),
  ]);
  const l2 = layer([
    ...['opt/', 'opt/conda/', 'opt/conda/envs/', 'opt/conda/envs/a/', 'opt/conda/envs/b/'].map((d) => dir(d)),
    ...['a', 'b'].flatMap((env) => Array.from({ length: files / 2 }, (_, i) => file(`opt/conda/envs/${env}/${name(i)}`, BLOCK, () => content(i)))),
  ]);
  const l3 = layer([
    ...['opt/', 'opt/conda/', 'opt/conda/pkgs/'].map((d) => dir(d)),
    ...Array.from({ length: files / 4 }, (_, k) => file(`opt/conda/pkgs/.wh.${name(files / 2 + k)}`, 0, () => Buffer.alloc(0), 0o600)),
  ]);
  const load = spawn(docker, ['load', '-q'], { stdio: ['pipe', 'ignore', 'inherit'] });
  const loaded = new Promise((res, rej) => load.on('close', (code) => (code === 0 ? res() : rej(new Error(`docker load: exit ${code}`)))));
  const outer = tar.pack();
  outer.pipe(load.stdin);
  const diffIds = [];
  for (const [i, l] of [l1, l2, l3].entries()) diffIds.push(await writeLayer(outer, `l${i}/layer.tar`, l));
  const config = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      created: '2026-01-01T00:00:00Z',
      config: { Env: ['PATH=/bin', 'CONDA_DIR=/opt/conda'], Cmd: ['sh'], WorkingDir: '/opt/conda', Labels: { bench: 'squash' } },
      rootfs: { type: 'layers', diff_ids: diffIds },
      history: diffIds.map((_, i) => ({ created: '2026-01-01T00:00:00Z', created_by: `bench layer ${i + 1}` })),
    }),
  );
  const configHex = createHash('sha256').update(config).digest('hex');
  outer.entry({ name: `${configHex}.json` }, config);
  outer.entry({ name: 'manifest.json' }, JSON.stringify([{ Config: `${configHex}.json`, RepoTags: [tag], Layers: diffIds.map((_, i) => `l${i}/layer.tar`) }]));
  outer.finalize();
  await loaded;
  return `sha256:${configHex}`;
}

/** Wall time, peak RSS (VmHWM, polled) and peak bytes under `watchDir` of one command. */
function measure(cmd, argv, { env = process.env, watchDir, stdout = 'ignore', shell = false } = {}) {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const child = spawn(cmd, argv, { env, stdio: ['ignore', stdout, 'pipe'], shell });
    let stderr = '';
    child.stderr.on('data', (c) => (stderr += c));
    let peakRss = 0;
    let peakTemp = 0;
    const poll = setInterval(() => {
      try {
        const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
        if (m) peakRss = Math.max(peakRss, Number(m[1]) * 1024);
      } catch {}
      if (watchDir) peakTemp = Math.max(peakTemp, duBytes(watchDir));
    }, 20);
    child.on('error', reject);
    child.on('close', (code) => {
      clearInterval(poll);
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      if (code !== 0) return reject(new Error(`${cmd} ${argv.join(' ')}: exit ${code}\n${stderr}`));
      resolve({ seconds, peakRss, peakTemp, stderr });
    });
  });
}

function duBytes(dir) {
  let total = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    try {
      total += e.isDirectory() ? duBytes(p) : statSync(p).size;
    } catch {}
  }
  return total;
}

const size = (ref) => Number(sh(docker, ['image', 'inspect', '-f', '{{.Size}}', ref]).trim());
const rmi = (...refs) => spawnSync(docker, ['rmi', '-f', ...refs], { stdio: 'ignore' });

/** (a) The original squash: crosslink patch in a container, export to a file, import with --change. */
async function original(tag) {
  const dir = mkdtempSync(join(tmpdir(), 'bench-squash-a-'));
  const name = `bench-squash-a-${process.pid}`;
  const script = 'find /opt/conda -type f | xargs sha256sum | sort | awk \'{ if ($1 == h) print m, $2; else { h = $1; m = $2 } }\' | while read m d; do ln -f "$m" "$d"; done';
  const steps = [
    `${docker} run --name ${name} -u 0 ${tag} sh -c '${script.replace(/'/g, "'\\''")}'`,
    `${docker} commit ${name} ${tag}-crosslinked >/dev/null`,
    `${docker} rm ${name} >/dev/null`,
    `C=$(${docker} create ${tag}-crosslinked sleep 1) && ${docker} export $C > ${dir}/export.tar && ${docker} rm $C >/dev/null`,
    `${docker} import --change 'ENV PATH=/bin' --change 'ENV CONDA_DIR=/opt/conda' --change 'CMD ["sh"]' --change 'WORKDIR /opt/conda' --change 'LABEL bench=squash' ${dir}/export.tar ${tag}-original >/dev/null`,
    `rm -f ${dir}/export.tar`,
  ];
  const r = await measure('bash', ['-c', `set -e; ${steps.join('; ')}`], { watchDir: dir });
  rmSync(dir, { recursive: true, force: true });
  return { ...r, size: size(`${tag}-original`) };
}

async function squashRun(tag, via, temp) {
  const env = { ...process.env, TMPDIR: temp, ...(via ? { IMAGEWRIGHT_SQUASH_VIA: via } : {}) };
  const r = await measure(process.execPath, ['--', SQUASH, tag, '-t', `${tag}-squashed`, '--json'], { env, watchDir: temp, stdout: 'pipe' });
  const s = size(`${tag}-squashed`);
  rmi(`${tag}-squashed`);
  return { ...r, size: s };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function benchImage(files, { withOriginal }) {
  const tag = `imagewright-bench/squash:${files}-${process.pid}`;
  log(`bench/squash: building ${tag} (${files} files of 64 KiB, ${files} copies, ${files / 4} deleted)`);
  await buildImage(tag, files);
  const source = size(tag);
  const temp = mkdtempSync(join(tmpdir(), 'bench-squash-tmp-'));
  const times = { save: [], squash: [], squashLayers: [] };
  let peakRss = 0;
  let peakTemp = 0;
  let squashed = 0;
  let a;
  try {
    if (withOriginal) {
      log('bench/squash: (a) original approach');
      a = await original(tag);
    }
    for (let round = 0; round < ROUNDS; round++) {
      log(`bench/squash: round ${round + 1}/${ROUNDS}`);
      times.save.push((await measure('bash', ['-c', `${docker} save ${tag} > /dev/null`])).seconds);
      const c = await squashRun(tag, undefined, temp);
      times.squash.push(c.seconds);
      peakRss = Math.max(peakRss, c.peakRss);
      peakTemp = Math.max(peakTemp, c.peakTemp);
      squashed = c.size;
      if (withOriginal) times.squashLayers.push((await squashRun(tag, 'layers', temp)).seconds);
    }
  } finally {
    rmi(tag, `${tag}-crosslinked`, `${tag}-original`);
    rmSync(temp, { recursive: true, force: true });
  }
  return {
    files,
    sourceSize: source,
    original: a && { seconds: a.seconds, size: a.size, peakTemp: a.peakTemp },
    save: median(times.save),
    squash: median(times.squash),
    squashViaLayers: times.squashLayers.length ? median(times.squashLayers) : undefined,
    squashSize: squashed,
    peakRss,
    peakTemp,
  };
}

if (args.includes('--build-only')) {
  // For profiling by hand: the bench image, kept, tagged imagewright-bench/squash:profile.
  await buildImage('imagewright-bench/squash:profile', FILES);
  log('bench/squash: built imagewright-bench/squash:profile');
  process.exit(0);
}
const small = await benchImage(FILES, { withOriginal: true });
const big = SCALE ? await benchImage(FILES * 10, { withOriginal: false }) : undefined;
const mb = (b) => `${(b / 1e6).toFixed(1)} MB`;
const result = {
  files: FILES,
  rounds: ROUNDS,
  original: small.original,
  saveSeconds: small.save,
  squashSeconds: small.squash,
  squashViaLayersSeconds: small.squashViaLayers,
  ratioToOriginal: small.squash / small.original.seconds,
  ratioToSave: small.squash / small.save,
  sizes: { source: small.sourceSize, original: small.original.size, squash: small.squashSize },
  peakRssBytes: small.peakRss,
  peakTempBytes: small.peakTemp,
  ...(big ? { scale: { files: big.files, squashSeconds: big.squash, saveSeconds: big.save, timeRatio: big.squash / small.squash, peakRssBytes: big.peakRss, peakTempBytes: big.peakTemp } } : {}),
};
const checks = [
  ['squash <= 0.5 x original', result.ratioToOriginal <= 0.5],
  ['squash <= 1.2 x docker save', result.ratioToSave <= 1.2],
  ['result size <= original', small.squashSize <= small.original.size],
  ['peak RSS <= 256 MiB', Math.max(small.peakRss, big?.peakRss ?? 0) <= 256 * 1024 * 1024],
  ['no temp files', small.peakTemp === 0 && (big?.peakTemp ?? 0) === 0],
  ...(big ? [['10x files <= 10.5x time', result.scale.timeRatio <= 10.5]] : []),
];
result.checks = Object.fromEntries(checks);
if (JSON_OUT) {
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
} else {
  const o = small.original;
  console.log(`image: ${FILES} files of 64 KiB + ${FILES} copies + ${FILES / 4} deleted; ${mb(small.sourceSize)}; medians of ${ROUNDS} rounds`);
  console.log(`(a) original (crosslink in a container, export, import): ${o.seconds.toFixed(2)} s, result ${mb(o.size)}, temp ${mb(o.peakTemp)}`);
  console.log(`(b) docker save > /dev/null:                               ${small.save.toFixed(2)} s`);
  console.log(`(c) squash (container export path):                        ${small.squash.toFixed(2)} s, result ${mb(small.squashSize)}, peak RSS ${mb(small.peakRss)}, temp ${mb(small.peakTemp)}`);
  if (small.squashViaLayers !== undefined) console.log(`(c') squash reading docker save layers:                   ${small.squashViaLayers.toFixed(2)} s`);
  console.log(`(c)/(a) = ${result.ratioToOriginal.toFixed(2)} (target <= 0.5);  (c)/(b) = ${result.ratioToSave.toFixed(2)} (target <= 1.2)`);
  if (big) console.log(`10x files: squash ${big.squash.toFixed(2)} s = ${result.scale.timeRatio.toFixed(2)}x (target <= 10.5x); save ${big.save.toFixed(2)} s; peak RSS ${mb(big.peakRss)}, temp ${mb(big.peakTemp)}`);
  for (const [name, ok] of checks) console.log(`${ok ? 'ok  ' : 'MISS'} ${name}`);
}
process.exit(checks.every(([, ok]) => ok) ? 0 : 1);
