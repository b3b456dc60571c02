import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FIXTURES, BUSYBOX_IMAGE, busyboxImage, ensureEngine, labelledImage, runBin, runRegistryCommand, skopeo, startEcrFixture, startTrackerServer, type BinResult, type EcrFixture, type TrackerServer } from '@imagewright/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';

// The built bin end to end: ECR's scan through the stand-in (the unmodified AWS SDK, ADMIN_ARN
// assumed), release statuses from the loopback trackers, the real STScI report as the oracle.
const FIXTURE_PATH = join(FIXTURES, 'stsci', 'ecr-scan-report.yaml');
const FIXTURE = readFileSync(FIXTURE_PATH, 'utf8');
type Report = {
  imageId: Record<string, string>;
  imageScanFindings: { findingSeverityCounts: Record<string, number>; findings: Record<string, unknown>[]; imageScanCompletedAt?: string; vulnerabilitySourceUpdatedAt?: string };
  imageScanStatus: Record<string, string>;
  overall_status?: string;
  registryId: string;
  repositoryName: string;
};
const fixture = YAML.parse(FIXTURE) as Report;
const ordered = (value: unknown) => JSON.stringify(value, null, 1);
const RUN = `t${process.pid}`;

/** ECR's basic findings behind the fixture: its 12 MEDIUM ones (without cve_status) and the 73 it dropped. */
function fixtureFindings(): Record<string, unknown>[] {
  const kept = fixture.imageScanFindings.findings.map(({ cve_status: _s, ...f }) => f);
  const dropped = (severity: string, n: number) => Array.from({ length: n }, (_, i) => ({ name: `CVE-2019-${severity.length}${i}`, severity, uri: `http://people.ubuntu.com/~ubuntu-security/cve/CVE-2019-${i}`, attributes: [] }));
  return [...kept, ...dropped('LOW', 47), ...dropped('INFORMATIONAL', 26)];
}

let fx: EcrFixture;
let tracker: TrackerServer;
let work: string;
const images: Record<string, string> = {};

beforeAll(async () => {
  const engine = await ensureEngine();
  await busyboxImage(engine);
  images.main = BUSYBOX_IMAGE;
  for (const use of ['failing', 'slow', 'never']) images[use] = await labelledImage(engine, `scan-report-${use}`);
  fx = await startEcrFixture({ deployment: 'demo' });
  tracker = await startTrackerServer({ latencyMs: 20 });
  // What Ubuntu's tracker says today for the fixture's CVEs (its words, lower case).
  for (const f of fixture.imageScanFindings.findings) {
    const pkg = (f.attributes as { key: string; value: string }[]).find((a) => a.key === 'package_name')!.value;
    const status = String(f.cve_status).split(' -- ').at(-1)!.toLowerCase();
    tracker.setUbuntu(String(f.name), [
      { package: pkg, release: 'jammy', status: 'not-affected' },
      { package: pkg, release: 'focal', status, ...(status === 'released' ? { description: '2.4.49+dfsg-2ubuntu1.5' } : {}) },
    ]);
  }
  work = mkdtempSync(join(tmpdir(), 'iw-scan-report-'));
}, 600_000);

afterAll(async () => {
  await tracker?.stop();
  await fx?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

const repo = (name: string) => `${RUN}/${name}`;
const push = (image: string, name: string, tag: string) => skopeo.push(fx.loggedIn, image, `${fx.registry.host}/${repo(name)}:${tag}`);
const report = (name: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<BinResult> =>
  runRegistryCommand(fx, 'image-scan-report', args, {
    repo: repo(name),
    env: { DOCKER_HOST: 'unix:///nonexistent.sock', IMAGEWRIGHT_UBUNTU_TRACKER: tracker.url, IMAGEWRIGHT_DEBIAN_TRACKER: tracker.url, IMAGE_UBUNTU_NAME: '20.04', ...env },
  });

describe('image-scan-report', () => {
  it('ECR (quarantine already approved: unscanned-latest-sandbox → latest-sandbox, one IN_PROGRESS look) → the real report’s layout, statuses from the tracker, exit 0', async () => {
    const digest = push(images.main, 'hub', 'latest-sandbox');
    await fx.ecr.setScan(repo('hub'), 'latest-sandbox', {
      findings: fixtureFindings(),
      pendingCalls: 1,
      completedAt: new Date('2020-11-18T21:48:56Z'),
      vulnerabilitySourceUpdatedAt: new Date('2020-11-04T01:21:09Z'),
    });
    tracker.resetCounts();
    const r = await report('hub', []);
    expect(r.code).toBe(0);
    // Progress and the summary on stderr only; stdout is the YAML.
    const err = r.stderr.trim().split('\n');
    expect(err[0]).toMatch(new RegExp(`^waiting for ECR's scan of ${repo('hub')}:latest-sandbox: IN_PROGRESS, \\d+ s$`));
    expect(err.at(-1)).toBe(`${fx.ecrHost}/${repo('hub')}:latest-sandbox: 12 of 85 findings at or above MEDIUM, 12 with a release status; overall_status OK`);
    const ours = YAML.parse(r.stdout) as Report;
    expect(ours.overall_status).toBe('OK');
    // The fixture with this run's image and today's statuses: same keys, order, values.
    const expected = structuredClone(fixture);
    expected.imageId = { imageDigest: digest, imageTag: 'latest-sandbox' };
    expected.registryId = fx.ecr.accountId;
    expected.repositoryName = repo('hub');
    for (const f of expected.imageScanFindings.findings) {
      const [id, severity, release, status] = String(f.cve_status).split(' -- ');
      f.cve_status = `${id} -- ${severity} -- ${release} -- ${status.toLowerCase()}${status === 'Released' ? ' (2.4.49+dfsg-2ubuntu1.5)' : ''}`;
    }
    const { overall_status: _o, ...rest } = ours;
    expect(ordered(rest)).toBe(ordered(expected));
    // 11 distinct CVEs among the 12 kept findings (CVE-2020-13844 twice): one request each.
    expect(tracker.requests).toBe(11);
  });

  it('a kept CRITICAL finding fails (exit 1, -o FILE written atomically, nothing on stdout); --image REPO:TAG and --image-digest name the image', async () => {
    const digest = push(images.failing, 'failing', 'v1');
    await fx.ecr.setScan(repo('failing'), 'v1', {
      findings: [
        { name: 'CVE-2024-0001', severity: 'CRITICAL', uri: 'https://ubuntu.com/security/CVE-2024-0001', attributes: [{ key: 'package_name', value: 'openssl' }] },
        { name: 'CVE-2024-0002', severity: 'LOW', uri: 'https://ubuntu.com/security/CVE-2024-0002', attributes: [] },
      ],
    });
    tracker.fail('CVE-2024-0001', 'status500');
    const file = join(work, 'ecr-scan-report.yaml');
    const r = await report('failing', ['--image', `${repo('failing')}:v1`, '--level', 'high', '-o', file]);
    expect(r).toMatchObject({ code: 1, stdout: '' });
    expect(r.stderr).toMatch(/: 1 of 2 findings at or above HIGH, 0 with a release status; overall_status FAILED\n$/);
    const written = YAML.parse(readFileSync(file, 'utf8')) as Report;
    expect(written.overall_status).toBe('FAILED');
    expect(written.imageScanFindings.findings.map((f) => f.cve_status)).toEqual(['CVE-2024-0001 -- CRITICAL -- unknown']);
    expect(written.imageScanFindings.findingSeverityCounts).toEqual({ CRITICAL: 1, LOW: 1 });

    const byDigest = await report('failing', ['--image-digest', digest, '--level', 'all', '--fail-on', 'none']);
    expect(byDigest.code).toBe(0);
    const doc = YAML.parse(byDigest.stdout) as Report;
    expect(doc.imageId).toEqual({ imageDigest: digest });
    expect(doc.overall_status).toBe('OK');
    expect(doc.imageScanFindings.findings).toHaveLength(2);
  });

  it('ECR failures exit 1 with one line: the scan still IN_PROGRESS at --timeout, an image never scanned, no such image', async () => {
    push(images.slow, 'slow', 'latest-sandbox');
    await fx.ecr.setScan(repo('slow'), 'latest-sandbox', { findings: [], pendingCalls: 1_000 });
    const slow = await report('slow', ['--timeout', '1s']);
    expect(slow.code).toBe(1);
    expect(slow.stdout).toBe('');
    expect(slow.stderr).toMatch(new RegExp(`^image-scan-report: ECR .*: the scan of ${repo('slow')}:latest-sandbox is still IN_PROGRESS after waiting [\\d.]+s \\(timeout 1\\.0s\\)\\n$`));

    push(images.never, 'never', 'latest-sandbox');
    const never = await report('never', []);
    expect(never).toMatchObject({ code: 1, stdout: '' });
    expect(never.stderr).toMatch(/has never been scanned/);
    expect(never.stderr.trim().split('\n')).toHaveLength(1);

    const none = await report('none', []);
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/RepositoryNotFoundException|no image/);
  });

  it('--report FILE: the real report re-read (its statuses kept with --no-status), ECR JSON with lookups; no config needed', async () => {
    const again = await runBin('image-scan-report', ['--report', FIXTURE_PATH, '--level', 'medium', '--no-status']);
    expect(again.code).toBe(0);
    const { overall_status: _o, ...rest } = YAML.parse(again.stdout) as Report;
    expect(ordered(rest)).toBe(ordered(fixture));

    const json = join(work, 'findings.json');
    writeFileSync(json, JSON.stringify({ registryId: '123456789012', repositoryName: 'r', imageId: { imageTag: 't' }, imageScanStatus: { status: 'COMPLETE' }, imageScanFindings: { findings: fixtureFindings() } }));
    tracker.resetCounts();
    const fromJson = await runBin('image-scan-report', ['--report', json, '--level', 'MEDIUM', '--release', 'focal'], { env: { IMAGEWRIGHT_UBUNTU_TRACKER: tracker.url } });
    expect(fromJson.code).toBe(0);
    const doc = YAML.parse(fromJson.stdout) as Report;
    expect(doc.imageScanFindings.findings[0].cve_status).toBe('CVE-2016-1585 -- MEDIUM -- Ubuntu 20.04 LTS (Focal Fossa) -- deferred');
    expect(doc.imageScanFindings.findingSeverityCounts).toEqual({ INFORMATIONAL: 26, LOW: 47, MEDIUM: 12 });
    expect(tracker.requests).toBe(11);
  });

  it('bad input: exit 2, one line, nothing on stdout', async () => {
    const cases: [string[], RegExp][] = [
      [['--level', 'severe'], /^image-scan-report: --level "severe": allowed critical, high, medium, low, informational, all$/],
      [['--fail-on', 'x'], /^image-scan-report: --fail-on "x": allowed .*none$/],
      [['--timeout', 'soon'], /^image-scan-report: --timeout "soon": allowed a duration/],
      [['--image-digest', 'sha256:12'], /^image-scan-report: --image-digest "sha256:12": allowed sha256:<64 hex digits>$/],
      [['--report', join(work, 'missing.yaml')], /^image-scan-report: --report .*missing\.yaml: no such file/],
      [['--report', FIXTURE_PATH, '--image', 'x:y'], /^image-scan-report: --report and --image conflict/],
      [['--no-status', '--release', 'focal'], /conflict/],
    ];
    for (const [args, message] of cases) {
      const r = await report('bad', args);
      expect(r).toMatchObject({ code: 2, stdout: '' });
      expect(r.stderr.trimEnd()).toMatch(message);
      expect(r.stderr.split('\n')).toHaveLength(2);
    }
    const notFindings = join(work, 'sbom.json');
    writeFileSync(notFindings, JSON.stringify({ bomFormat: 'CycloneDX', specVersion: '1.5', components: [] }));
    const sbom = await runBin('image-scan-report', ['--report', notFindings, '--level', 'low']);
    expect(sbom).toMatchObject({ code: 2, stdout: '' });
    expect(sbom.stderr).toMatch(/an SBOM, not findings/);
  });
});
