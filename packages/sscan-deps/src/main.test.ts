import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readOsvDirectory } from '@imagewright/advisories';
import { expectOneLine, FIXTURES, REPO_ROOT, runBin, startOsvServer, writeOsvZip, type BinResult, type OsvServer } from '@imagewright/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// sscan-deps' built bin on the STScI frozen specs against the real PyPA advisories in
// packages/testing/fixtures/osv/pypi, from a directory, an all.zip and a loopback OSV API.

const STSCI = join(FIXTURES, 'stsci');
const PYPI = join(FIXTURES, 'osv', 'pypi');
const TESS = join(STSCI, 'tess-frozen.yml');
const TESS_TXT = join(STSCI, 'tess-requirements.txt');
const ROMAN = join(STSCI, 'roman-cal-frozen.yml');
const SAFETY_IGNORE = join(STSCI, 'safety.ignore');

/*
 * The expected findings, from the records' ECOSYSTEM ranges and the pins:
 *   PYSEC-2023-11  cryptography [1.8, 39.0.1)   3.4.7 in, 38.0.1 in
 *   PYSEC-2021-856 numpy        [0, 1.19.1)     1.18.5 in, 1.21.6 out; roman-cal's numpy=1.20.3 is a conda package (not covered, and out anyway)
 *   PYSEC-2023-175 pillow       [0, 10.0.1)     8.2.0 in, 9.3.0 in
 *   PYSEC-2023-74  requests     [2.3.0, 2.31.0) 2.25.1 in, 2.28.1 in (requests-mock/-oauthlib are other packages)
 *   PYSEC-2023-75  tornado      [0, 6.3.2)      6.1 in
 *   PYSEC-2023-192 urllib3      [0, 1.26.17) ∪ [2.0.0, 2.0.6)   1.26.5 in, 1.26.12 in
 * tess-frozen.yml pins all six in its pip: section; roman-cal-frozen.yml the same pip versions
 * but numpy only as conda; tess-requirements.txt the newer versions.
 */
const EXPECTED: Record<string, string[]> = {
  'tess-frozen.yml': ['cryptography 3.4.7 PYSEC-2023-11', 'numpy 1.18.5 PYSEC-2021-856', 'pillow 8.2.0 PYSEC-2023-175', 'requests 2.25.1 PYSEC-2023-74', 'tornado 6.1 PYSEC-2023-75', 'urllib3 1.26.5 PYSEC-2023-192'],
  'tess-requirements.txt': ['cryptography 38.0.1 PYSEC-2023-11', 'pillow 9.3.0 PYSEC-2023-175', 'requests 2.28.1 PYSEC-2023-74', 'tornado 6.1 PYSEC-2023-75', 'urllib3 1.26.12 PYSEC-2023-192'],
  'roman-cal-frozen.yml': ['cryptography 3.4.7 PYSEC-2023-11', 'pillow 8.2.0 PYSEC-2023-175', 'requests 2.25.1 PYSEC-2023-74', 'tornado 6.1 PYSEC-2023-75', 'urllib3 1.26.5 PYSEC-2023-192'],
};

interface Finding {
  package: string;
  version: string;
  id: string;
  fixed: string[];
}
interface Scan {
  advisories: string;
  specs: { spec: string; packages: number; notCovered: number; unpinned: string[]; skipped: string[]; findings: Finding[]; ignored: (Finding & { rule: string })[] }[];
  summary: Record<string, number>;
  staleIgnores: { id: string }[];
  expiredIgnores: { id: string }[];
}

const deps = (args: string[], env: NodeJS.ProcessEnv = {}) => runBin('sscan-deps', args, { env });
const parse = (r: BinResult): Scan => JSON.parse(r.stdout) as Scan;
const triples = (list: Finding[]) => list.map((f) => `${f.package} ${f.version} ${f.id}`).sort();
const base = (spec: string) => spec.split('/').pop()!;

let work: string;
let zip: string;
let server: OsvServer;
let clean: string;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'iw-sscan-deps-'));
  const records = readOsvDirectory(PYPI);
  expect(records.map((r) => r.id).sort()).toEqual(['PYSEC-2021-856', 'PYSEC-2023-11', 'PYSEC-2023-175', 'PYSEC-2023-192', 'PYSEC-2023-74', 'PYSEC-2023-75']);
  zip = join(work, 'all.zip');
  writeOsvZip(records, zip);
  server = await startOsvServer(records);
  // A spec after the failing ones: nothing affected, an option line and an unpinned line.
  clean = join(work, 'clean-requirements.txt');
  writeFileSync(clean, '# pinned, none affected\n-r other.txt\nnumpy==1.21.6  # via astropy\nurllib3==1.26.17 \\\n    --hash=sha256:abc\nrequests>=2.31\n');
});

afterAll(async () => {
  await server?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('sscan-deps on the STScI specs', () => {
  const specs = () => [TESS, TESS_TXT, ROMAN, clean];

  it('finds exactly the expected advisories per spec, every spec scanned after the first failing one; equal from the API, all.zip and a directory', async () => {
    const scans: Scan[] = [];
    for (const advisories of [PYPI, zip, server.url]) {
      const r = await deps(['--json', '--no-host', '--advisories', advisories, '--ignore', SAFETY_IGNORE, ...specs()]);
      expect(r.code, r.stderr).toBe(1);
      scans.push(parse(r));
    }
    const [dir, fromZip, api] = scans;
    expect(dir.specs.map((s) => base(s.spec))).toEqual(['tess-frozen.yml', 'tess-requirements.txt', 'roman-cal-frozen.yml', 'clean-requirements.txt']);
    for (const s of dir.specs.slice(0, 3)) expect(triples(s.findings), s.spec).toEqual(EXPECTED[base(s.spec)]);
    const last = dir.specs[3];
    expect(last).toMatchObject({ packages: 2, findings: [], unpinned: ['requests>=2.31'], skipped: ['-r other.txt'] });
    // The original safety.ignore holds only comments: no rule, so nothing ignored and nothing stale.
    expect(dir.summary).toMatchObject({ specs: 4, findings: 16, ignored: 0, staleIgnores: 0, expiredIgnores: 0 });
    expect(dir.specs[0].findings.find((f) => f.package === 'urllib3')?.fixed).toEqual(['1.26.17']);
    // roman-cal's conda packages (numpy=1.20.3 among them) are counted, not matched.
    expect(dir.specs[2].notCovered).toBeGreaterThan(0);
    const strip = (s: Scan) => ({ ...s, advisories: undefined });
    expect(strip(fromZip)).toEqual(strip(dir));
    expect(strip(api)).toEqual(strip(dir));
    expect(server.requests.some((q) => q.path === '/v1/querybatch')).toBe(true);
  });

  it('text: a banner per spec, one line per finding, the summary; exit 1', async () => {
    const r = await deps(['--no-host', '--advisories', PYPI, ...specs()]);
    expect(r.code).toBe(1);
    const lines = r.stdout.trim().split('\n');
    const banners = lines.filter((l) => l.startsWith('===='));
    expect(banners.map((b) => base(b.replace(/ ====$/, '')))).toEqual(['tess-frozen.yml', 'tess-requirements.txt', 'roman-cal-frozen.yml', 'clean-requirements.txt']);
    expect(lines).toContain('urllib3 1.26.5 PYSEC-2023-192 HIGH 1.26.17');
    expect(lines).toContain('requests 2.28.1 PYSEC-2023-74 UNKNOWN 2.31.0');
    expect(lines.at(-1)).toMatch(/^sscan-deps: 4 specs, \d+ packages, 16 findings, 0 ignored, 0 stale ignores/);
    expect(r.stderr).toMatch(/clean-requirements\.txt: 1 unpinned, not matched: requests>=2\.31/);
    expect(r.stderr).toMatch(/tess-requirements\.txt: 1 unpinned, not matched: astrocut @ git\+/);
  });

  it('ignores: safety table rows, aliases, stale and expired rules; exit 0 once everything is ignored', async () => {
    const ignore = join(work, 'ignore');
    writeFileSync(
      ignore,
      [
        '# pasted from safety',
        '| urllib3 | 1.26.5 | <1.26.17 | PYSEC-2023-192 |',
        'CVE-2023-32681   # requests, by its CVE alias',
        'GHSA-w7pp-m8wf-vj6r exp:2999-12-31',
        'PYSEC-2099-1     # matches nothing: stale',
        'PYSEC-2023-75 2000-01-01  # expired: tornado shows again',
        '',
      ].join('\n'),
    );
    const r = await deps(['--json', '--no-host', '--advisories', PYPI, '--ignore', ignore, TESS]);
    expect(r.code).toBe(1);
    const scan = parse(r);
    // cryptography by its GHSA alias, in force until 2999.
    expect(triples(scan.specs[0].findings)).toEqual(['numpy 1.18.5 PYSEC-2021-856', 'pillow 8.2.0 PYSEC-2023-175', 'tornado 6.1 PYSEC-2023-75']);
    expect(triples(scan.specs[0].ignored)).toEqual(['cryptography 3.4.7 PYSEC-2023-11', 'requests 2.25.1 PYSEC-2023-74', 'urllib3 1.26.5 PYSEC-2023-192']);
    expect(scan.staleIgnores.map((s) => s.id)).toEqual(['PYSEC-2099-1']);
    expect(scan.expiredIgnores.map((s) => s.id)).toEqual(['PYSEC-2023-75']);
    expect(scan.summary).toMatchObject({ findings: 3, ignored: 3, staleIgnores: 1, expiredIgnores: 1 });

    const text = await deps(['--no-host', '--advisories', PYPI, '--ignore', ignore, TESS]);
    expect(text.stdout).toMatch(/^\(3 ignored: PYSEC-2023-11, PYSEC-2023-74, PYSEC-2023-192\)$/m);
    expect(text.stderr).toMatch(/stale ignore PYSEC-2099-1 \(.*ignore:5\): matches no finding/);
    expect(text.stderr).toMatch(/expired ignore PYSEC-2023-75 \(.*ignore:6\): expired 2000-01-01, not applied/);

    const all = join(work, 'ignore-all');
    writeFileSync(all, 'PYSEC-2023-11\nPYSEC-2021-856\nPYSEC-2023-175\nPYSEC-2023-74\nPYSEC-2023-75\nPYSEC-2023-192\n');
    const none = await deps(['--no-host', '--advisories', PYPI, '--ignore', all, TESS]);
    expect(none.code, none.stdout).toBe(0);
    expect(none.stdout).toMatch(/0 findings, 6 ignored, 0 stale ignores/);
  });

  it('conda packages: not covered by default, matched as PyPI with --conda-as-pypi', async () => {
    const spec = join(work, 'conda-frozen.yml');
    writeFileSync(spec, 'name: old\nchannels:\n  - conda-forge\ndependencies:\n  - numpy=1.18.5=py38h3ee3e9d_0\n  - tornado=6.3.3\n  - pip:\n    - requests==2.31.0\n');
    const plain = parse(await deps(['--json', '--no-host', '--advisories', PYPI, spec]));
    expect(plain.specs[0]).toMatchObject({ packages: 3, notCovered: 2, findings: [] });
    const r = await deps(['--json', '--no-host', '--conda-as-pypi', '--advisories', PYPI, spec]);
    expect(r.code).toBe(1);
    expect(parse(r).specs[0]).toMatchObject({ notCovered: 0 });
    expect(triples(parse(r).specs[0].findings)).toEqual(['numpy 1.18.5 PYSEC-2021-856']);
  });
});

describe('the host', () => {
  // Node and bash (zx's shell) alone on PATH: their own folder may be /usr/bin, which holds Debian's pip.
  let nodeDir: string;
  beforeAll(() => {
    nodeDir = join(work, 'nodebin');
    mkdirSync(nodeDir);
    symlinkSync(process.execPath, join(nodeDir, 'node'));
    symlinkSync('/bin/bash', join(nodeDir, 'bash'));
  });

  it("scans the host's pip list first, as the original did; --no-host leaves it out", async () => {
    const bin = join(work, 'pipbin');
    mkdirSync(bin, { recursive: true });
    // A pip that answers `pip list --format=freeze` with two pins (requests affected, numpy not).
    writeFileSync(join(bin, 'pip'), '#!/bin/sh\ncase "$*" in *"list --format=freeze"*) printf "requests==2.25.1\\nnumpy==1.21.6\\n";; *) exit 3;; esac\n');
    chmodSync(join(bin, 'pip'), 0o755);
    const env = { PATH: `${bin}:${nodeDir}` };
    const r = await deps(['--json', '--advisories', PYPI, clean], env);
    expect(r.code).toBe(1);
    const scan = parse(r);
    expect(scan.specs.map((s) => base(s.spec))).toEqual(['host (pip list)', 'clean-requirements.txt']);
    expect(triples(scan.specs[0].findings)).toEqual(['requests 2.25.1 PYSEC-2023-74']);
    const without = await deps(['--json', '--no-host', '--advisories', PYPI, clean], env);
    expect(without.code).toBe(0);
    expect(parse(without).specs.map((s) => base(s.spec))).toEqual(['clean-requirements.txt']);
  });

  it('no pip on PATH: said, and the specs are still scanned', async () => {
    const r = await deps(['--advisories', PYPI, clean], { PATH: nodeDir });
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/host: no pip on PATH, its packages are not scanned/);
    expect(r.stdout).toMatch(/clean-requirements\.txt ====/);
  });
});

describe('sscan-safety', () => {
  it('is a bin of the same program and answers the same', async () => {
    const manifest = JSON.parse(readFileSync(join(REPO_ROOT, 'packages', 'sscan-deps', 'package.json'), 'utf8')) as { bin: Record<string, string> };
    expect(manifest.bin['sscan-safety']).toBe(manifest.bin['sscan-deps']);
    // Run through a link named sscan-safety, as bin/ and npm install it.
    const link = join(work, 'sscan-safety');
    symlinkSync(join(REPO_ROOT, 'packages', 'sscan-deps', manifest.bin['sscan-safety']), link);
    const args = ['--json', '--no-host', '--advisories', PYPI, TESS, TESS_TXT];
    const viaAlias = await new Promise<{ code: number | null; stdout: string }>((resolve, reject) => {
      const child = spawn(link, args, { cwd: REPO_ROOT, env: { PATH: process.env.PATH, NO_COLOR: '1' } });
      let stdout = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, stdout }));
    });
    const direct = await deps(args);
    expect(viaAlias.code).toBe(1);
    expect(direct.code).toBe(1);
    expect(JSON.parse(viaAlias.stdout)).toEqual(JSON.parse(direct.stdout));
  });
});

describe('bad input: exit 2, one line', () => {
  it('a missing spec, even after good ones; nothing scanned', async () => {
    expectOneLine(await deps(['--no-host', '--advisories', PYPI, TESS, join(work, 'nope.txt')]), 2, /spec .*nope\.txt: no such file/);
  });
  it('a spec that is not a conda YAML', async () => {
    const bad = join(work, 'bad.yml');
    writeFileSync(bad, 'dependencies: {numpy: 1}\n');
    expectOneLine(await deps(['--no-host', '--advisories', PYPI, bad]), 2, /bad\.yml: .*expected a conda env export/);
  });
  it('--advisories that is no database', async () => {
    expectOneLine(await deps(['--no-host', '--advisories', join(work, 'missing-db'), TESS]), 2, /advisory database .*missing-db: no such file or directory/);
    expectOneLine(await deps(['--no-host', '--advisories', 'ftp://example.org/osv', TESS]), 2, /only http\(s\) URLs/);
  });
  it('an unreadable or malformed ignore file', async () => {
    expectOneLine(await deps(['--no-host', '--advisories', PYPI, '--ignore', join(work, 'no-ignore'), TESS]), 2, /ignore file .*no-ignore: no such file/);
    const bad = join(work, 'bad-ignore');
    writeFileSync(bad, 'PYSEC-2023-74 tomorrow\n');
    expectOneLine(await deps(['--no-host', '--advisories', PYPI, '--ignore', bad, TESS]), 2, /bad-ignore:1: "tomorrow" after PYSEC-2023-74/);
  });
  it('no SPEC and no deployment', async () => {
    expectOneLine(await deps(['--no-host', '--advisories', PYPI]), 2, /DEPLOYMENT_NAME is not set/);
  });
});

describe('the demo deployment', () => {
  it("its frozen specs and common's against the advisory snapshot it ships (deployment.yaml scan.advisories): clean", async () => {
    const r = await deps(['--json', '--no-host'], { DEPLOYMENT_NAME: 'demo' });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const scan = parse(r);
    expect(scan.advisories).toBe(join(REPO_ROOT, 'deployments', 'demo', 'advisories'));
    expect(scan.specs.map((s) => s.spec)).toEqual(['deployments/demo/image/environments/frozen/science-frozen.yml', 'deployments/demo/image/environments/frozen/tools-frozen.yml']);
    expect(scan.summary).toMatchObject({ specs: 2, findings: 0 });
  });
});
