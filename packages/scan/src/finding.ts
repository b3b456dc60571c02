import { usageError } from '@imagewright/core';

/**
 * One finding model for every backend (ECR, Trivy, OSV): what each scanner says about one
 * vulnerability in one package of one image.
 */

/** Lowest first. UNKNOWN is below everything: a finding nobody rated never fails a gate by itself. */
export const SEVERITY_ORDER = ['UNKNOWN', 'INFORMATIONAL', 'LOW', 'MEDIUM', 'HIGH', 'CRITICAL'] as const;
export type FindingSeverity = (typeof SEVERITY_ORDER)[number];

/** The four columns Canonical's summary counts, highest first. */
export const COUNTED_SEVERITIES = ['CRITICAL', 'HIGH', 'MEDIUM', 'LOW'] as const;

export type Backend = 'ecr' | 'trivy' | 'osv';

/** os: a distribution's package (deb, apk, rpm); lang: a language ecosystem's (pypi, conda, npm…). */
export type PackageClass = 'os' | 'lang';

export interface FindingPackage {
  name: string;
  /** Installed version; '' when the scanner gave none. */
  version: string;
  /** purl type: deb, apk, rpm, pypi, conda, npm… ('' when unknown). */
  type: string;
  class: PackageClass;
  purl?: string;
  /** The record file the package was found from (lang packages). */
  path?: string;
  /** diffID of the layer that brought the package, when the scanner knows it. */
  layer?: string;
}

export interface Finding {
  /** The advisory's id as the scanner names it: CVE-…, GHSA-…, PYSEC-…, DSA-… */
  id: string;
  /** Other ids of the same advisory (a PYSEC's CVE and GHSA). */
  aliases: string[];
  severity: FindingSeverity;
  package: FindingPackage;
  /** Versions that fix it, comma-separated as Trivy writes them. */
  fixedVersion?: string;
  /** Trivy's/OSV's status words: fixed, affected, will_not_fix… */
  status?: string;
  title?: string;
  description?: string;
  /** The advisory's primary URL. */
  uri?: string;
  /** ECR's raw attributes (package_name, package_version, CVSS2_SCORE…), kept for the report. */
  attributes?: { key: string; value: string }[];
  /** The advisory's status in the image's release, `<release> -- <status>` (the STScI report's cve_status tail). */
  releaseStatus?: string;
}

/** What one scan of one image found. */
export interface ScanResult {
  /** The image as the user named it, or the report's artifact name. */
  image: string;
  /** Image digest (registry) or ID, when known. */
  digest?: string;
  /** The base distribution, `debian 12` / `alpine 3.18.4` / `ubuntu 22.04`. */
  distro?: string;
  backend: Backend;
  /** Where the image lives, when known: ECR's registryId or the registry host, repository, tag. */
  registry?: string;
  repository?: string;
  tag?: string;
  /** ISO times: when the scan completed, and when its advisory data was last updated. */
  scannedAt?: string;
  databaseUpdatedAt?: string;
  /** ECR's imageScanStatus, kept for the report. */
  scanStatus?: { status: string; description?: string };
  /** Counts over all the scanner's findings when `findings` holds only some (an STScI report keeps those at or above its level). */
  severityCounts?: Record<string, number>;
  findings: Finding[];
}

export function severityRank(severity: FindingSeverity): number {
  return SEVERITY_ORDER.indexOf(severity);
}

/** A scanner's severity word as ours: case-insensitive, MODERATE (GHSA) is MEDIUM, NEGLIGIBLE is LOW, anything else UNKNOWN. */
export function normalizeSeverity(word: string | undefined): FindingSeverity {
  const upper = (word ?? '').trim().toUpperCase();
  if (upper === 'MODERATE') return 'MEDIUM';
  if (upper === 'NEGLIGIBLE' || upper === 'UNIMPORTANT') return 'LOW';
  if (upper === 'INFO') return 'INFORMATIONAL';
  return (SEVERITY_ORDER as readonly string[]).includes(upper) ? (upper as FindingSeverity) : 'UNKNOWN';
}

/**
 * A severity given by the user (`--fail-on high`, `--severity MEDIUM`, IMAGE_VULNERABILITY_LEVEL):
 * case-insensitive; INFORMATIONAL and ALL keep everything rated, as the original's KEEP_LEVELS
 * did; `none` (only where `allowNone`) means no threshold.
 */
export function parseSeverity(input: string, what: string, options: { allowNone?: boolean } = {}): FindingSeverity | undefined {
  const upper = input.trim().toUpperCase();
  if (options.allowNone && upper === 'NONE') return undefined;
  if (upper === 'ALL') return 'INFORMATIONAL';
  if (upper !== 'UNKNOWN' && (SEVERITY_ORDER as readonly string[]).includes(upper)) return upper as FindingSeverity;
  const allowed = ['critical', 'high', 'medium', 'low', 'informational', 'all', ...(options.allowNone ? ['none'] : [])];
  throw usageError(`${what} ${JSON.stringify(input)}: allowed ${allowed.join(', ')}`);
}

/** Findings at or above `min`. */
export function atOrAbove(findings: Finding[], min: FindingSeverity): Finding[] {
  const floor = severityRank(min);
  return findings.filter((f) => severityRank(f.severity) >= floor);
}

export type SeverityCounts = Record<FindingSeverity, number>;

/** Findings per severity, counted from the findings themselves (never from text). */
export function countBySeverity(findings: Finding[]): SeverityCounts {
  const counts = Object.fromEntries(SEVERITY_ORDER.map((s) => [s, 0])) as SeverityCounts;
  for (const f of findings) counts[f.severity]++;
  return counts;
}

/** The key a finding is compared by across scans: (advisory, package). */
export function findingKey(f: Finding): string {
  return `${f.id}\0${f.package.type}\0${f.package.name}`;
}

/** Highest severity first, then id, package name and version: a stable order for every output. */
export function compareFindings(a: Finding, b: Finding): number {
  return (
    severityRank(b.severity) - severityRank(a.severity) ||
    cmp(a.id, b.id) ||
    cmp(a.package.name, b.package.name) ||
    cmp(a.package.version, b.package.version) ||
    cmp(a.package.path ?? '', b.package.path ?? '')
  );
}

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** purl types of OS package managers; everything else is a language package. */
const OS_TYPES = new Set(['deb', 'apk', 'rpm', 'alpm', 'alpine', 'debian', 'ubuntu', 'redhat', 'centos', 'rocky', 'alma', 'amazon', 'oracle', 'photon', 'suse', 'wolfi', 'chainguard', 'cbl-mariner', 'azurelinux']);

export function classOfType(type: string): PackageClass {
  return OS_TYPES.has(type.toLowerCase()) ? 'os' : 'lang';
}
