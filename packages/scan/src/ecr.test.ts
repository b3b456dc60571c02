import { rmSync } from 'node:fs';
import { ImagewrightError } from '@imagewright/core';
import { EcrRegistry } from '@imagewright/registry';
import { BUSYBOX_IMAGE, busyboxImage, dockerConfigWith, type Ecr, labelledImage, ensureEngine, overrideProcessEnv, type Registry, rejection, skopeo, startEcr, startRegistry } from '@imagewright/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ecrScan, fromEcrFindings } from './ecr';

const LOOPBACK = /^http:\/\/127\.0\.0\.1:\d+$/;


/** Basic-scan findings as ECR answers them: one per CVE and package. */
const basicFindings = (n: number, prefix = 'CVE-2023-') =>
  Array.from({ length: n }, (_, i) => ({
    name: `${prefix}${10000 + i}`,
    description: `finding ${i}`,
    uri: `http://people.ubuntu.com/~ubuntu-security/cve/${prefix}${10000 + i}`,
    severity: ['CRITICAL', 'HIGH', 'MEDIUM', 'LOW', 'INFORMATIONAL', 'UNDEFINED'][i % 6],
    attributes: [
      { key: 'package_version', value: `1.${i}-0ubuntu1` },
      { key: 'package_name', value: `pkg${i}` },
      { key: 'CVSS2_SCORE', value: '5' },
    ],
  }));

describe('ecrScan through EcrRegistry.scanFindings, the ECR stand-in and the unmodified AWS SDK', () => {
  let registry: Registry;
  let ecr: Ecr;
  let cfg: string;
  let busybox: string;
  /** Distinct images by use: scans belong to a digest, so each case needs its own. */
  const images: Record<string, string> = {};
  let restoreEnv: (() => void) | undefined;
  const REPO = 'scan-user-image';

  /** As commands make it: the admin role assumed first (ADMIN_ARN). */
  const client = () => {
    if (!LOOPBACK.test(ecr.env.AWS_ENDPOINT_URL_ECR)) throw new Error(`refusing a non-loopback AWS endpoint: ${ecr.env.AWS_ENDPOINT_URL_ECR}`);
    return new EcrRegistry({ accountId: ecr.accountId, region: ecr.region, adminArn: `arn:aws:iam::${ecr.accountId}:role/admin-role`, env: { ...ecr.env } });
  };
  const host = () => `${ecr.accountId}.dkr.ecr.${ecr.region}.amazonaws.com`;

  beforeAll(async () => {
    const engine = await ensureEngine();
    await busyboxImage(engine);
    for (const use of ['v2', 'slow', 'never', 'odd', 'enhanced']) images[use] = await labelledImage(engine, `scan-ecr-${use}`);
    registry = await startRegistry({ username: 'AWS' });
    ecr = await startEcr({ registry });
    restoreEnv = overrideProcessEnv(ecr.env, ['AWS_CONFIG_FILE', 'AWS_SHARED_CREDENTIALS_FILE', 'AWS_EC2_METADATA_DISABLED']);
    cfg = dockerConfigWith({ [registry.host]: { username: 'AWS', password: registry.password } });
    busybox = skopeo.push(cfg, BUSYBOX_IMAGE, `${registry.host}/${REPO}:latest-dev`);
  });

  afterAll(async () => {
    restoreEnv?.();
    await ecr?.stop();
    await registry?.stop();
    if (cfg) rmSync(cfg, { recursive: true, force: true });
  });

  it('every page (pageSize 7 over 50 findings), mapped onto the finding model in ECR order, after two IN_PROGRESS answers', async () => {
    const findings = basicFindings(50);
    await ecr.setScan(REPO, 'latest-dev', {
      findings,
      pendingCalls: 2,
      completedAt: new Date('2024-05-01T10:00:00Z'),
      vulnerabilitySourceUpdatedAt: new Date('2024-04-30T01:02:03Z'),
    });
    const progress: { image: string; status: string; waitedMs: number }[] = [];
    const before = ecr.calls.length;
    const result = await ecrScan({ registry: client(), repository: REPO, image: { tag: 'latest-dev' } }, { pageSize: 7, pollInterval: 20, onProgress: (p) => progress.push(p) });

    expect(progress.map((p) => [p.image, p.status])).toEqual([
      [`${REPO}:latest-dev`, 'IN_PROGRESS'],
      [`${REPO}:latest-dev`, 'IN_PROGRESS'],
    ]);
    expect(progress[1].waitedMs).toBeGreaterThanOrEqual(progress[0].waitedMs);
    const calls = ecr.calls.slice(before);
    // 2 waiting + ceil(50 / 7) pages, all as the assumed role.
    expect(calls.filter((c) => c.operation === 'DescribeImageScanFindings')).toHaveLength(2 + 8);
    expect(calls.filter((c) => c.operation === 'AssumeRole')).toHaveLength(1);

    expect(result).toMatchObject({
      image: `${host()}/${REPO}:latest-dev`,
      digest: busybox,
      backend: 'ecr',
      registry: ecr.accountId,
      repository: REPO,
      tag: 'latest-dev',
      scannedAt: '2024-05-01T10:00:00.000Z',
      databaseUpdatedAt: '2024-04-30T01:02:03.000Z',
      scanStatus: { status: 'COMPLETE', description: 'The scan was completed successfully.' },
    });
    expect(result.findings.map((f) => f.id)).toEqual(findings.map((f) => f.name));
    expect(result.findings.map((f) => f.severity)).toEqual(findings.map((f) => (f.severity === 'UNDEFINED' ? 'UNKNOWN' : f.severity)));
    expect(result.findings[3]).toEqual({
      id: 'CVE-2023-10003',
      aliases: [],
      severity: 'LOW',
      package: { name: 'pkg3', version: '1.3-0ubuntu1', type: 'deb', class: 'os' },
      description: 'finding 3',
      uri: 'http://people.ubuntu.com/~ubuntu-security/cve/CVE-2023-10003',
      attributes: findings[3].attributes,
    });
  });

  it('by digest; and `unscanned-X` falls back to X when the quarantine already retagged the image', async () => {
    const byDigest = await ecrScan({ registry: client(), repository: REPO, image: { digest: busybox } }, { pollInterval: 10 });
    expect(byDigest).toMatchObject({ image: `${host()}/${REPO}@${busybox}`, digest: busybox });
    expect(byDigest.findings).toHaveLength(50);

    // Pushed as unscanned-v2-dev, scanned, then approved: only v2-dev is left.
    skopeo.push(cfg, images.v2, `${registry.host}/${REPO}:v2-dev`);
    await ecr.setScan(REPO, 'v2-dev', { findings: basicFindings(3, 'CVE-2022-') });
    const answer = await client().scanFindings(REPO, { tag: 'unscanned-v2-dev' }, { pollInterval: 10 });
    expect(answer).toMatchObject({ fallbackFrom: 'unscanned-v2-dev', imageId: { imageTag: 'v2-dev' } });
    const result = await ecrScan({ registry: client(), repository: REPO, image: { tag: 'unscanned-v2-dev' } }, { pollInterval: 10 });
    expect(result).toMatchObject({ tag: 'v2-dev', image: `${host()}/${REPO}:v2-dev` });
    expect(result.findings.map((f) => f.id)).toEqual(['CVE-2022-10000', 'CVE-2022-10001', 'CVE-2022-10002']);

    // Neither tag: ImageNotFoundException named, exit 1. A plain tag has no fallback.
    const neither = await rejection(client().scanFindings(REPO, { tag: 'unscanned-v3-dev' }));
    expect(neither.exitCode).toBe(1);
    expect(neither.message).toMatch(/DescribeImageScanFindings: no image scan-user-image:unscanned-v3-dev \(nor v3-dev\) in the registry/);
    const calls = ecr.calls.length;
    const plain = await rejection(client().scanFindings(REPO, { tag: 'v3-dev' }));
    expect(plain.message).toMatch(/no image scan-user-image:v3-dev in the registry/);
    expect(ecr.calls.slice(calls).filter((c) => c.operation === 'DescribeImageScanFindings')).toHaveLength(1);
  });

  it('a scan still IN_PROGRESS at the timeout fails (exit 1) naming the image and how long it waited', async () => {
    skopeo.push(cfg, images.slow, `${registry.host}/${REPO}:slow`);
    await ecr.setScan(REPO, 'slow', { findings: [], pendingCalls: 1000 });
    const started = Date.now();
    const error = await rejection(client().scanFindings(REPO, { tag: 'slow' }, { pollInterval: 50, timeout: 300 }));
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(error.exitCode).toBe(1);
    expect(error.message).toMatch(/the scan of scan-user-image:slow is still IN_PROGRESS after waiting \d+\.\ds \(timeout 0\.3s\)/);
  });

  it('never scanned: ScanNotFoundException as a clear failure; a failed scan fails with ECR’s description', async () => {
    skopeo.push(cfg, images.never, `${registry.host}/${REPO}:never`);
    const never = await rejection(client().scanFindings(REPO, { tag: 'never' }));
    expect(never.exitCode).toBe(1);
    expect(never.message).toMatch(/scan-user-image:never has never been scanned/);

    skopeo.push(cfg, images.odd, `${registry.host}/${REPO}:odd`);
    await ecr.setScan(REPO, 'odd', { status: 'UNSUPPORTED_IMAGE' });
    const odd = await rejection(client().scanFindings(REPO, { tag: 'odd' }));
    expect(odd.exitCode).toBe(1);
    expect(odd.message).toMatch(/the scan of scan-user-image:odd ended UNSUPPORTED_IMAGE: UnsupportedImageError: The operating system and\/or package manager are not supported\./);
  });

  it('enhanced scanning (Inspector): ACTIVE, one finding per vulnerable package, versions as dpkg writes them', async () => {
    skopeo.push(cfg, images.enhanced, `${registry.host}/${REPO}:enhanced`);
    await ecr.setScan(REPO, 'enhanced', {
      status: 'ACTIVE',
      enhancedFindings: [
        {
          severity: 'HIGH',
          status: 'ACTIVE',
          title: 'CVE-2024-0001 - openssl',
          description: 'openssl does something wrong',
          packageVulnerabilityDetails: {
            vulnerabilityId: 'CVE-2024-0001',
            sourceUrl: 'https://ubuntu.com/security/CVE-2024-0001',
            relatedVulnerabilities: ['USN-1-1'],
            cvss: [{ baseScore: 7.5, scoringVector: 'CVSS:3.1/AV:N', version: '3.1', source: 'NVD' }],
            vulnerablePackages: [
              { name: 'libssl3', version: '3.0.2', release: '0ubuntu1.10', epoch: 0, packageManager: 'OS', fixedInVersion: '0:3.0.2-0ubuntu1.12' },
              { name: 'openssl', version: '3.0.2', release: '0ubuntu1.10', epoch: 1, packageManager: 'OS', fixedInVersion: 'NotAvailable' },
            ],
          },
        },
        {
          severity: 'UNTRIAGED',
          packageVulnerabilityDetails: { vulnerabilityId: 'GHSA-xxxx', vulnerablePackages: [{ name: 'requests', version: '2.0.0', packageManager: 'PYTHONPKG', filePath: 'opt/venv/lib/python3.11/site-packages/requests-2.0.0.dist-info/METADATA' }] },
        },
      ],
    });
    const result = await ecrScan({ registry: client(), repository: REPO, image: { tag: 'enhanced' } }, { pollInterval: 10 });
    expect(result.scanStatus?.status).toBe('ACTIVE');
    expect(result.findings).toEqual([
      {
        id: 'CVE-2024-0001',
        aliases: ['USN-1-1'],
        severity: 'HIGH',
        package: { name: 'libssl3', version: '3.0.2-0ubuntu1.10', type: 'deb', class: 'os' },
        fixedVersion: '0:3.0.2-0ubuntu1.12',
        status: 'fixed',
        title: 'CVE-2024-0001 - openssl',
        description: 'openssl does something wrong',
        uri: 'https://ubuntu.com/security/CVE-2024-0001',
        attributes: [
          { key: 'package_version', value: '3.0.2-0ubuntu1.10' },
          { key: 'package_name', value: 'libssl3' },
          { key: 'CVSS3_VECTOR', value: 'CVSS:3.1/AV:N' },
          { key: 'CVSS3_SCORE', value: '7.5' },
        ],
      },
      expect.objectContaining({ id: 'CVE-2024-0001', package: { name: 'openssl', version: '1:3.0.2-0ubuntu1.10', type: 'deb', class: 'os' }, status: 'affected' }),
      expect.objectContaining({
        id: 'GHSA-xxxx',
        severity: 'UNKNOWN',
        package: { name: 'requests', version: '2.0.0', type: 'pypi', class: 'lang', path: 'opt/venv/lib/python3.11/site-packages/requests-2.0.0.dist-info/METADATA' },
      }),
    ]);
  });
});

describe('fromEcrFindings (the aws CLI JSON)', () => {
  it('reads times as the CLI prints them (ISO text or epoch seconds) and names the image repository:tag', () => {
    const result = fromEcrFindings({
      registryId: '328656936502',
      repositoryName: 'hub-user-image',
      imageId: { imageDigest: 'sha256:abc', imageTag: 'roman-latest' },
      imageScanStatus: { status: 'COMPLETE' },
      imageScanFindings: { imageScanCompletedAt: '2020-11-18T16:48:56-05:00', vulnerabilitySourceUpdatedAt: 1604452869, findings: [{ name: 'CVE-1', severity: 'medium' }] },
    });
    expect(result).toMatchObject({
      image: 'hub-user-image:roman-latest',
      scannedAt: '2020-11-18T21:48:56.000Z',
      databaseUpdatedAt: '2020-11-04T01:21:09.000Z',
      findings: [{ id: 'CVE-1', severity: 'MEDIUM', package: { name: '', version: '', type: '', class: 'os' }, attributes: [] }],
    });
  });
});
