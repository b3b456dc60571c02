// Types only: the registry client (and the AWS SDK behind it) is the caller's, made when needed.
import type { EcrRegistry, EcrScanFindings, ScanFindingsOptions } from '@imagewright/registry';
import { classOfType, normalizeSeverity, type Finding, type FindingPackage, type ScanResult } from './finding';

/**
 * ECR's scan findings in the one finding model. Basic scanning (Clair) names a CVE, a severity,
 * a URI and attributes (package_name, package_version, CVSS2_*); enhanced scanning (Amazon
 * Inspector) has one record per vulnerability with the vulnerable packages in it.
 */

type When = Date | string | number | undefined;

/**
 * DescribeImageScanFindings as the SDK answers it (EcrScanFindings) or as `aws ecr
 * describe-image-scan-findings` prints it (times as ISO text or epoch seconds, findings under
 * imageScanFindings).
 */
export interface EcrFindingsAnswer {
  registryId?: string;
  repositoryName?: string;
  imageId?: { imageDigest?: string; imageTag?: string };
  imageScanStatus?: { status?: string; description?: string };
  imageScanCompletedAt?: When;
  vulnerabilitySourceUpdatedAt?: When;
  findings?: EcrBasicFinding[];
  enhancedFindings?: EcrEnhancedFinding[];
  imageScanFindings?: {
    imageScanCompletedAt?: When;
    vulnerabilitySourceUpdatedAt?: When;
    findings?: EcrBasicFinding[];
    enhancedFindings?: EcrEnhancedFinding[];
  };
}

export interface EcrBasicFinding {
  name?: string;
  description?: string;
  uri?: string;
  severity?: string;
  attributes?: { key?: string; value?: string }[];
}

export interface EcrEnhancedFinding {
  title?: string;
  description?: string;
  severity?: string;
  status?: string;
  packageVulnerabilityDetails?: {
    vulnerabilityId?: string;
    relatedVulnerabilities?: string[];
    sourceUrl?: string;
    referenceUrls?: string[];
    cvss?: { baseScore?: number; scoringVector?: string; version?: string; source?: string }[];
    vulnerablePackages?: {
      name?: string;
      version?: string;
      epoch?: number;
      release?: string;
      packageManager?: string;
      filePath?: string;
      fixedInVersion?: string;
    }[];
  };
}

/** Inspector's packageManager → purl type. */
const PACKAGE_TYPES: Record<string, string> = {
  OS: 'deb', // Inspector says OS for distribution packages; the uri/distro refine it below
  DPKG: 'deb',
  APK: 'apk',
  RPM: 'rpm',
  PYTHONPKG: 'pypi',
  PIP: 'pypi',
  NPM: 'npm',
  NODEPKG: 'npm',
  JAR: 'maven',
  GOBINARY: 'golang',
  GOMOD: 'golang',
  GEMSPEC: 'gem',
  BUNDLER: 'gem',
  NUGET: 'nuget',
  CARGO: 'cargo',
  POETRY: 'pypi',
  PIPENV: 'pypi',
  COMPOSER: 'composer',
};

/** A time as ISO text (UTC), or undefined when absent or unreadable. */
function isoTime(when: When): string | undefined {
  if (when === undefined || when === null || when === '') return undefined;
  const date = when instanceof Date ? when : typeof when === 'number' ? new Date(when * 1000) : new Date(when);
  return Number.isNaN(date.getTime()) ? undefined : date.toISOString();
}

/** The package type a basic finding's advisory URI implies (Clair scans distribution packages). */
function typeOfUri(uri: string | undefined): string {
  if (!uri) return '';
  if (/ubuntu|debian/i.test(uri)) return 'deb';
  if (/alpine/i.test(uri)) return 'apk';
  if (/redhat|centos|amazon|alas|oracle|rocky|alma/i.test(uri)) return 'rpm';
  return '';
}

function basicFinding(f: EcrBasicFinding): Finding {
  const attributes = (f.attributes ?? []).map((a) => ({ key: String(a.key ?? ''), value: String(a.value ?? '') }));
  const attr = (key: string) => attributes.find((a) => a.key === key)?.value;
  const pkg: FindingPackage = { name: attr('package_name') ?? '', version: attr('package_version') ?? '', type: typeOfUri(f.uri), class: 'os' };
  return {
    id: f.name ?? '',
    aliases: [],
    severity: normalizeSeverity(f.severity),
    package: pkg,
    ...(f.description !== undefined ? { description: f.description } : {}),
    ...(f.uri !== undefined ? { uri: f.uri } : {}),
    attributes,
  };
}

/** One finding per vulnerable package of an Inspector record. */
function enhancedFindings(f: EcrEnhancedFinding): Finding[] {
  const details = f.packageVulnerabilityDetails ?? {};
  const id = details.vulnerabilityId ?? f.title ?? '';
  const uri = details.sourceUrl ?? details.referenceUrls?.[0];
  const cvss = (details.cvss ?? []).flatMap((c) => {
    const major = String(c.version ?? '').split('.')[0];
    if (!major) return [];
    return [
      ...(c.scoringVector ? [{ key: `CVSS${major}_VECTOR`, value: c.scoringVector }] : []),
      ...(c.baseScore !== undefined ? [{ key: `CVSS${major}_SCORE`, value: String(c.baseScore) }] : []),
    ];
  });
  const packages = details.vulnerablePackages?.length ? details.vulnerablePackages : [{}];
  return packages.map((p) => {
    // dpkg/rpm versions as the package manager writes them: [epoch:]version[-release].
    const version = p.version ? `${p.epoch ? `${p.epoch}:` : ''}${p.version}${p.release ? `-${p.release}` : ''}` : '';
    const manager = String(p.packageManager ?? '').toUpperCase();
    const type = manager === 'OS' ? typeOfUri(uri) || 'deb' : (PACKAGE_TYPES[manager] ?? manager.toLowerCase());
    const fixed = p.fixedInVersion && p.fixedInVersion !== 'NotAvailable' ? p.fixedInVersion : undefined;
    return {
      id,
      aliases: [...(details.relatedVulnerabilities ?? [])].filter((a) => a && a !== id),
      severity: normalizeSeverity(f.severity),
      package: { name: p.name ?? '', version, type, class: classOfType(type), ...(p.filePath ? { path: p.filePath } : {}) },
      ...(fixed ? { fixedVersion: fixed } : {}),
      status: fixed ? 'fixed' : 'affected',
      ...(f.title ? { title: f.title } : {}),
      ...(f.description !== undefined ? { description: f.description } : {}),
      ...(uri ? { uri } : {}),
      attributes: [{ key: 'package_version', value: version }, { key: 'package_name', value: p.name ?? '' }, ...cvss],
    } satisfies Finding;
  });
}

/**
 * ECR's answer as a ScanResult: findings in ECR's order (the report keeps it), where the image
 * lives, when it was scanned and how fresh the advisory data was.
 */
export function fromEcrFindings(answer: EcrFindingsAnswer | EcrScanFindings, image?: string): ScanResult {
  const a = answer as EcrFindingsAnswer;
  const details = a.imageScanFindings ?? {};
  const basic = a.findings ?? details.findings ?? [];
  const enhanced = a.enhancedFindings ?? details.enhancedFindings ?? [];
  const tag = a.imageId?.imageTag;
  const digest = a.imageId?.imageDigest;
  const repository = a.repositoryName;
  const scannedAt = isoTime(a.imageScanCompletedAt ?? details.imageScanCompletedAt);
  const databaseUpdatedAt = isoTime(a.vulnerabilitySourceUpdatedAt ?? details.vulnerabilitySourceUpdatedAt);
  const status = a.imageScanStatus?.status;
  return {
    image: image ?? `${repository ?? ''}${tag ? `:${tag}` : digest ? `@${digest}` : ''}`,
    ...(digest ? { digest } : {}),
    backend: 'ecr',
    ...(a.registryId ? { registry: a.registryId } : {}),
    ...(repository ? { repository } : {}),
    ...(tag ? { tag } : {}),
    ...(scannedAt ? { scannedAt } : {}),
    ...(databaseUpdatedAt ? { databaseUpdatedAt } : {}),
    ...(status ? { scanStatus: { status, ...(a.imageScanStatus?.description ? { description: a.imageScanStatus.description } : {}) } } : {}),
    findings: [...basic.map(basicFinding), ...enhanced.flatMap(enhancedFindings)],
  };
}

export interface EcrScanTarget {
  registry: Pick<EcrRegistry, 'scanFindings' | 'host'>;
  repository: string;
  /** By tag (an `unscanned-X` tag falls back to X) or by digest. */
  image: { tag: string } | { digest: string };
}

/** The image's ECR scan: waits for it, reads every page, maps it. `image` in the result is host/repository:tag. */
export async function ecrScan(target: EcrScanTarget, options: ScanFindingsOptions = {}): Promise<ScanResult> {
  const answer = await target.registry.scanFindings(target.repository, target.image, options);
  const ref = 'digest' in target.image ? `@${target.image.digest}` : `:${answer.imageId.imageTag ?? target.image.tag}`;
  return fromEcrFindings(answer, `${target.registry.host}/${answer.repositoryName}${ref}`);
}
