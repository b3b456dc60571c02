import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Engine } from '@imagewright/docker';
import { FIXTURES, busyboxEntries, envFor, ensureEngine, type EcrFixture, type LayerSpec, loadLayeredImage, runBin, runRegistryCommand, skopeo, startEcrFixture, tempDeploymentRoot, trivyBinary } from '@imagewright/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// image-scan's built bin end to end: an image loaded into the Engine scanned with the OSV backend
// against advisories written here (offline), the real Trivy fixture as --report, our own SBOM as
// --sbom, the real Trivy binary (offline: it has no DB here), ECR's scan through the stand-in,
// and deployment.yaml's scan: defaults. Expected findings are worked out from the records below.

const RUN = `t${process.pid}`;
const REPO = `imagewright-test/image-scan-${RUN}`;
const TAG = `${REPO}:a`;
const TRIVY_FIXTURE = join(FIXTURES, 'trivy', 'debian-buster.json');
const SITE = 'opt/venv/lib/python3.11/site-packages';
const file = (path: string, content: string): LayerSpec[number] => ({ path, type: 'file', content });
const LAYERS: LayerSpec[] = [
  [
    ...busyboxEntries(),
    file('etc/os-release', 'ID=debian\nVERSION_ID="12"\n'),
    file('var/lib/dpkg/status', 'Package: libssl3\nStatus: install ok installed\nArchitecture: amd64\nSource: openssl\nVersion: 3.0.11-1~deb12u1\n\nPackage: tzdata\nStatus: install ok installed\nArchitecture: all\nVersion: 2024a-0+deb12u1\n'),
  ],
  [file(`${SITE}/PyYAML-5.3.1.dist-info/METADATA`, 'Metadata-Version: 2.1\nName: PyYAML\nVersion: 5.3.1\n')],
];
const range = (fixed: string) => [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed }] }];
const RECORDS = [
  // openssl (libssl3's source) 3.0.11-1~deb12u1 < 3.0.11-1~deb12u2: HIGH.
  { id: 'DEBIAN-CVE-2099-1001', aliases: ['CVE-2099-1001'], modified: '2024-06-01T00:00:00Z', affected: [{ package: { ecosystem: 'Debian:12', name: 'openssl' }, ranges: range('3.0.11-1~deb12u2'), ecosystem_specific: { urgency: 'high' } }] },
  // PyYAML 5.3.1 < 5.4: MODERATE → MEDIUM.
  { id: 'GHSA-test-pyya-ml01', aliases: ['CVE-2099-2001'], modified: '2024-06-01T00:00:00Z', database_specific: { severity: 'MODERATE' }, affected: [{ package: { ecosystem: 'PyPI', name: 'pyyaml' }, ranges: range('5.4') }] },
  // tzdata is not affected: fixed before the installed version.
  { id: 'DEBIAN-CVE-2099-1002', modified: '2024-06-01T00:00:00Z', affected: [{ package: { ecosystem: 'Debian:12', name: 'tzdata' }, ranges: range('2023c-1'), ecosystem_specific: { urgency: 'high' } }] },
];
const LINES = [
  `${TAG}\tHIGH\tDEBIAN-CVE-2099-1001\tlibssl3\t3.0.11-1~deb12u1\t3.0.11-1~deb12u2\tos`,
  `${TAG}\tMEDIUM\tGHSA-test-pyya-ml01\tPyYAML\t5.3.1\t5.4\tlang`,
];

let engine: Engine;
let work: string;
let advisories: string;
let imageId: string;

beforeAll(async () => {
  engine = await ensureEngine();
  imageId = (await loadLayeredImage(engine, TAG, LAYERS)).id;
  work = mkdtempSync(join(tmpdir(), 'iw-image-scan-'));
  advisories = join(work, 'advisories');
  mkdirSync(advisories);
  for (const r of RECORDS) writeFileSync(join(advisories, `${r.id}.json`), JSON.stringify(r));
});

afterAll(async () => {
  // Only this run's tags: other tests use the Engine at the same time.
  for (const image of await engine.listImages({ filters: JSON.stringify({ reference: [`${REPO}`] }) })) {
    for (const tag of image.RepoTags ?? []) if (tag.startsWith(`${REPO}:`)) await engine.getImage(tag).remove({ force: true }).catch(() => undefined);
  }
  if (work) rmSync(work, { recursive: true, force: true });
});

const scan = (args: string[], env: NodeJS.ProcessEnv = {}) => runBin('image-scan', args, { env, cwd: work });
const osv = (args: string[]) => scan([TAG, '--backend', 'osv', '--advisories', advisories, ...args]);
const oneLine = (text: string) => expect(text.split('\n')).toHaveLength(2);

describe('image-scan --backend osv', () => {
  it('a HIGH finding fails the default gate (exit 1): lines on stdout, the summary and gate on stderr', async () => {
    const r = await osv([]);
    expect(r.code).toBe(1);
    expect(r.stdout.trimEnd().split('\n')).toEqual(LINES);
    expect(r.stderr).toBe(
      `image-scan: ${TAG} (osv, debian 12): 2 findings: 0 critical, 1 high, 1 medium, 0 low, 0 other\n` + 'image-scan: gate FAILED: 1 finding at or above HIGH (DEBIAN-CVE-2099-1001)\n',
    );
  });

  it('--fail-on critical passes (exit 0); --fail-on medium counts both; --severity shows only what is at or above it', async () => {
    const critical = await osv(['--fail-on', 'critical']);
    expect(critical.code).toBe(0);
    expect(critical.stderr).toMatch(/^image-scan: gate passed: nothing at or above CRITICAL$/m);
    const medium = await osv(['--fail-on', 'MEDIUM']);
    expect(medium.code).toBe(1);
    expect(medium.stderr).toMatch(/^image-scan: gate FAILED: 2 findings at or above MEDIUM \(DEBIAN-CVE-2099-1001, GHSA-test-pyya-ml01\)$/m);
    const high = await osv(['--fail-on', 'none', '--severity', 'high']);
    expect(high.code).toBe(0);
    expect(high.stdout.trimEnd().split('\n')).toEqual([LINES[0]]);
    expect(high.stderr).toMatch(/^image-scan: gate: none \(--fail-on none\)$/m);
  });

  it('--ignore FILE: the HIGH ignored by its CVE alias passes the gate; the stale rule is reported', async () => {
    const ignore = join(work, 'scan.ignore');
    writeFileSync(ignore, '# accepted until the rebuild\nCVE-2099-1001 exp:2999-01-01\nCVE-2000-0001\n');
    const r = await osv(['--ignore', ignore]);
    expect(r.code).toBe(0);
    expect(r.stdout.trimEnd().split('\n')).toEqual([LINES[1]]);
    expect(r.stderr).toBe(
      `image-scan: ${TAG} (osv, debian 12): 1 finding: 0 critical, 0 high, 1 medium, 0 low, 0 other; 1 ignored\n` +
        `image-scan: stale ignore rule (matched nothing): CVE-2000-0001 at ${ignore}:3\n` +
        'image-scan: gate passed: nothing at or above HIGH\n',
    );
    // An expired rule ignores nothing: the gate fails again.
    writeFileSync(ignore, 'CVE-2099-1001 exp:2000-01-01\n');
    const expired = await osv(['--ignore', ignore]);
    expect(expired.code).toBe(1);
    expect(expired.stderr).toContain(`image-scan: expired ignore rule (ignores nothing): CVE-2099-1001 (until 2000-01-01) at ${ignore}:1\n`);
  });

  it('--json: the scan {image, digest, distro, backend, findings, ignored, gate} alone on stdout; -o FILE holds the same', async () => {
    const ignore = join(work, 'json.ignore');
    writeFileSync(ignore, 'GHSA-test-pyya-ml01\n');
    const out = join(work, 'scan.json');
    const r = await osv(['--json', '--ignore', ignore, '-o', out]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('');
    const doc = JSON.parse(r.stdout);
    expect(Object.keys(doc).sort()).toEqual(['backend', 'digest', 'distro', 'findings', 'gate', 'ignored', 'image', 'scannedAt']);
    expect(doc).toMatchObject({ image: TAG, digest: imageId, distro: 'debian 12', backend: 'osv' });
    expect(doc.findings).toHaveLength(1);
    expect(doc.findings[0]).toMatchObject({
      id: 'DEBIAN-CVE-2099-1001',
      aliases: ['CVE-2099-1001'],
      severity: 'HIGH',
      fixedVersion: '3.0.11-1~deb12u2',
      status: 'fixed',
      package: { name: 'libssl3', version: '3.0.11-1~deb12u1', type: 'deb', class: 'os', path: 'var/lib/dpkg/status' },
    });
    const ignored = [{ id: 'GHSA-test-pyya-ml01', package: 'PyYAML', rule: `GHSA-test-pyya-ml01 at ${ignore}:1` }];
    expect(doc.ignored).toEqual(ignored);
    expect(doc.gate).toEqual({ failOn: 'HIGH', passed: false, failing: 1, failingIds: ['DEBIAN-CVE-2099-1001'], ignored, stale: [], expired: [] });
    expect(JSON.parse(readFileSync(out, 'utf8'))).toEqual(doc);
  });

  it('--sbom FILE: image-sbom’s SBOM of the image gives the same findings', async () => {
    const sbomFile = join(work, 'sbom.json');
    const made = await runBin('image-sbom', [TAG, '-o', sbomFile]);
    expect(made.code).toBe(0);
    const r = await scan(['--sbom', sbomFile, '--advisories', advisories, '--json', '--fail-on', 'critical']);
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc).toMatchObject({ backend: 'osv', image: TAG, distro: 'debian 12', gate: { failOn: 'CRITICAL', passed: true } });
    expect(doc.findings.map((f: { id: string; package: { name: string } }) => `${f.id} ${f.package.name}`).sort()).toEqual(['DEBIAN-CVE-2099-1001 libssl3', 'GHSA-test-pyya-ml01 PyYAML']);
    // A report given as --sbom is refused.
    const notSbom = await scan(['--sbom', TRIVY_FIXTURE, '--advisories', advisories]);
    expect(notSbom).toMatchObject({ code: 2, stdout: '' });
    expect(notSbom.stderr).toMatch(/^image-scan: --sbom .*debian-buster\.json: not an SBOM/);
  });
});

describe('image-scan --report', () => {
  it("the real Trivy report: its CRITICAL fails at the default HIGH (exit 1); --fail-on none passes", async () => {
    const r = await scan(['--report', TRIVY_FIXTURE]);
    expect(r.code).toBe(1);
    expect(r.stdout.trimEnd().split('\n')).toEqual([
      'testdata/fixtures/images/debian-buster.tar.gz\tCRITICAL\tCVE-2019-18224\tlibidn2-0\t2.0.5-1\t2.0.5-1+deb10u1\tos',
      'testdata/fixtures/images/debian-buster.tar.gz\tLOW\tCVE-2019-18276\tbash\t5.0-4\t-\tos',
    ]);
    expect(r.stderr).toMatch(/^image-scan: gate FAILED: 1 finding at or above HIGH \(CVE-2019-18224\)$/m);
    const none = await scan(['--report', TRIVY_FIXTURE, '--fail-on', 'none', '--json']);
    expect(none.code).toBe(0);
    const doc = JSON.parse(none.stdout);
    expect(doc).toMatchObject({ backend: 'trivy', distro: 'debian 10.1', gate: { passed: true, failing: 0 } });
    expect(doc.gate.failOn).toBeUndefined();
    // image-scan --json is itself a report: read back, the same findings.
    const again = join(work, 'again.json');
    writeFileSync(again, none.stdout);
    const back = await scan(['--report', again, '--json', '--fail-on', 'low']);
    expect(back.code).toBe(1);
    expect(JSON.parse(back.stdout).findings).toEqual(doc.findings);
  });
});

describe('image-scan --backend trivy', () => {
  it('the real Trivy binary, offline with no vulnerability DB in its cache: one clean line, exit 1', async () => {
    const r = await scan([TAG, '--backend', 'trivy', '--offline', '--cache-dir', join(work, 'trivy-cache')], { TRIVY: trivyBinary() });
    expect(r).toMatchObject({ code: 1, stdout: '' });
    expect(r.stderr).toBe('image-scan: trivy exited 1: The first run cannot skip downloading DB\n');
  });

  it('no Trivy binary: one line saying so, exit 1', async () => {
    const r = await scan([TAG, '--backend', 'trivy'], { TRIVY: join(work, 'no-trivy') });
    expect(r).toMatchObject({ code: 1, stdout: '' });
    expect(r.stderr).toBe(`image-scan: trivy: not found (${join(work, 'no-trivy')}); install Trivy or set TRIVY=/path/to/trivy, or use --report FILE or --backend osv\n`);
  });
});

describe('image-scan --backend ecr', () => {
  let fx: EcrFixture;
  const repo = (name: string) => `${RUN}/${name}`;
  const ECR_FINDINGS = [
    { name: 'CVE-2099-3001', severity: 'CRITICAL', uri: 'https://security-tracker.debian.org/tracker/CVE-2099-3001', attributes: [{ key: 'package_name', value: 'openssl' }, { key: 'package_version', value: '3.0.11-1~deb12u1' }] },
    { name: 'CVE-2099-3002', severity: 'LOW', uri: 'https://security-tracker.debian.org/tracker/CVE-2099-3002', attributes: [{ key: 'package_name', value: 'tzdata' }, { key: 'package_version', value: '2024a-0+deb12u1' }] },
  ];
  beforeAll(async () => {
    fx = await startEcrFixture({ deployment: 'demo' });
  }, 600_000);
  afterAll(async () => {
    await fx?.stop();
  });

  it('the default image (IMAGE_REPO at PUSH_TAG, unscanned- falling back) and the default backend for an ECR registry; an explicit IMAGE', async () => {
    skopeo.push(fx.loggedIn, TAG, `${fx.registry.host}/${repo('scanned')}:latest-sandbox`);
    await fx.ecr.setScan(repo('scanned'), 'latest-sandbox', { findings: ECR_FINDINGS, pendingCalls: 1 });
    const r = await runRegistryCommand(fx, 'image-scan', ['--json'], { repo: repo('scanned'), env: { DOCKER_HOST: 'unix:///nonexistent.sock' } });
    expect(r.code).toBe(1);
    const doc = JSON.parse(r.stdout);
    expect(doc).toMatchObject({ backend: 'ecr', repository: repo('scanned'), gate: { failOn: 'HIGH', passed: false, failingIds: ['CVE-2099-3001'] } });
    expect(doc.findings.map((f: { id: string; severity: string; package: { name: string; version: string } }) => `${f.id} ${f.severity} ${f.package.name} ${f.package.version}`).sort()).toEqual([
      'CVE-2099-3001 CRITICAL openssl 3.0.11-1~deb12u1',
      'CVE-2099-3002 LOW tzdata 2024a-0+deb12u1',
    ]);
    expect(r.stderr).toMatch(new RegExp(`^waiting for ECR's scan of ${repo('scanned')}:latest-sandbox: IN_PROGRESS, \\d+ s$`, 'm'));

    skopeo.push(fx.loggedIn, TAG, `${fx.registry.host}/${repo('other')}:v1`);
    await fx.ecr.setScan(repo('other'), 'v1', { findings: [ECR_FINDINGS[1]] });
    const explicit = await runRegistryCommand(fx, 'image-scan', [`${repo('other')}:v1`, '--backend', 'ecr'], { repo: repo('scanned') });
    expect(explicit.code).toBe(0);
    expect(explicit.stdout.split('\n')).toHaveLength(2);
    expect(explicit.stdout.split('\t').slice(1, 4)).toEqual(['LOW', 'CVE-2099-3002', 'tzdata']);
    expect(explicit.stderr).toMatch(/^image-scan: gate passed: nothing at or above HIGH$/m);
  });

  it('an image never scanned: exit 1, one line', async () => {
    skopeo.push(fx.loggedIn, TAG, `${fx.registry.host}/${repo('never')}:latest-sandbox`);
    const r = await runRegistryCommand(fx, 'image-scan', ['--backend', 'ecr'], { repo: repo('never') });
    expect(r).toMatchObject({ code: 1, stdout: '' });
    expect(r.stderr).toMatch(/has never been scanned/);
    oneLine(r.stderr);
  });
});

describe('image-scan: bad input and deployment defaults', () => {
  it('bad input: exit 2, one line, nothing on stdout', async () => {
    const cases: [string[], string][] = [
      [[TAG, '--backend', 'grype'], 'image-scan: --backend "grype": allowed ecr, trivy, osv'],
      [[TAG, '--backend', 'trivy', '--advisories', advisories], 'image-scan: --advisories goes with --backend osv (the backend is trivy)'],
      [[TAG, '--fail-on', 'CRITCAL', '--advisories', advisories], 'image-scan: --fail-on "CRITCAL": allowed critical, high, medium, low, informational, all, none'],
      [['--report', join(work, 'missing.json')], `image-scan: --report ${join(work, 'missing.json')}: no such file`],
      [[TAG, '--backend', 'ecr', '--timeout', 'soon'], 'image-scan: --timeout "soon": allowed a duration such as 90s, 15m or 1h'],
      [[TAG, '--advisories', join(work, 'no-advisories')], `image-scan: advisory database ${join(work, 'no-advisories')}: no such file or directory (expected an http(s) URL of an OSV API, a directory of OSV records or an OSV all.zip)`],
      [[TAG, '--advisories', advisories, '--ignore', join(work, 'no.ignore')], `image-scan: ignore file ${join(work, 'no.ignore')}: no such file`],
    ];
    for (const [args, message] of cases) {
      const r = await scan(args);
      expect({ args, ...r }).toMatchObject({ args, code: 2, stdout: '', stderr: `${message}\n` });
    }
  });

  it("deployment.yaml's scan: gives the backend, the advisories (relative to the deployment) and fail-on; flags win", async () => {
    const root = tempDeploymentRoot('scandep', {
      'deployments/scandep/deployment.yaml': 'scan:\n  backend: osv\n  advisories: advisories\n  fail-on: critical\n',
      ...Object.fromEntries(RECORDS.map((r) => [`deployments/scandep/advisories/${r.id}.json`, JSON.stringify(r)])),
    });
    try {
      // The image by default: IMAGE_ID of the deployment (envFor names it TAG).
      const env = envFor(root, 'scandep', TAG);
      const r = await scan(['--json'], env);
      expect(r.code).toBe(0);
      const doc = JSON.parse(r.stdout);
      expect(doc).toMatchObject({ image: TAG, backend: 'osv', gate: { failOn: 'CRITICAL', passed: true } });
      expect(doc.findings).toHaveLength(2);
      expect((await scan(['--fail-on', 'high'], env)).code).toBe(1);
      // The same through a setup-env file, given as --setup-env and as IMAGEWRIGHT_SETUP_ENV.
      const setupEnv = join(work, 'setup-env');
      writeFileSync(setupEnv, Object.entries(env).map(([k, v]) => `export ${k}=${v}\n`).join(''));
      const viaFlag = await runBin('image-scan', ['--setup-env', setupEnv, '--json'], { cwd: tmpdir() });
      expect(viaFlag.code).toBe(0);
      expect(JSON.parse(viaFlag.stdout).gate.failOn).toBe('CRITICAL');
      const viaEnv = await runBin('image-scan', ['--fail-on', 'medium'], { cwd: tmpdir(), env: { IMAGEWRIGHT_SETUP_ENV: setupEnv } });
      expect(viaEnv.code).toBe(1);
      expect(viaEnv.stderr).toMatch(/gate FAILED: 2 findings at or above MEDIUM/);
      // A setup-env that is not there is an error (exit 2), not a silent "no defaults".
      const missing = await runBin('image-scan', ['--setup-env', join(work, 'nope'), '--report', TRIVY_FIXTURE], { cwd: tmpdir() });
      expect(missing).toMatchObject({ code: 2, stdout: '' });
      oneLine(missing.stderr);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
