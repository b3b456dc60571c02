import { atOrAbove, compareFindings, type Finding, type FindingSeverity, type ScanResult } from './finding';

/**
 * What changed between the scan of an image and the scan of the image that replaces it, by
 * (advisory, package): the Kubeflow guideline's "the CVE count must drop with each update".
 */

export interface CveDiff {
  old: { image: string; total: number };
  new: { image: string; total: number };
  /** In OLD, not in NEW. */
  fixed: Finding[];
  /** In NEW, not in OLD. */
  introduced: Finding[];
  /** In both: NEW's finding (its version may differ). */
  unchanged: Finding[];
}

/**
 * The advisory a finding is about, the same across scanners: its CVE when it has one (a PYSEC
 * and Trivy's CVE line up), else its own id.
 */
export function advisoryKey(f: Finding): string {
  const cve = [f.id, ...f.aliases].find((id) => /^CVE-\d{4}-\d+$/i.test(id));
  return (cve ?? f.id).toUpperCase();
}

/** PEP 503 for Python names (Trivy and pip spell them differently); other ecosystems as given. */
function packageKey(f: Finding): string {
  const type = f.package.type === 'conda' ? 'pypi' : f.package.type;
  const name = type === 'pypi' ? f.package.name.toLowerCase().replace(/[-_.]+/g, '-') : f.package.name;
  return `${type}\0${name}`;
}

const keyOf = (f: Finding) => `${advisoryKey(f)}\0${packageKey(f)}`;

/** One finding per key: several paths of one package (two environments) count once. */
function byKey(findings: Finding[]): Map<string, Finding> {
  const map = new Map<string, Finding>();
  for (const f of [...findings].sort(compareFindings)) if (!map.has(keyOf(f))) map.set(keyOf(f), f);
  return map;
}

/** The diff of two scans; `minSeverity` keeps only findings at or above it on both sides. */
export function diffScans(older: ScanResult, newer: ScanResult, minSeverity?: FindingSeverity): CveDiff {
  const keep = (r: ScanResult) => (minSeverity ? atOrAbove(r.findings, minSeverity) : r.findings);
  const a = byKey(keep(older));
  const b = byKey(keep(newer));
  const sorted = (list: Finding[]) => list.sort(compareFindings);
  return {
    old: { image: older.image, total: a.size },
    new: { image: newer.image, total: b.size },
    fixed: sorted([...a].filter(([k]) => !b.has(k)).map(([, f]) => f)),
    introduced: sorted([...b].filter(([k]) => !a.has(k)).map(([, f]) => f)),
    unchanged: sorted([...b].filter(([k]) => a.has(k)).map(([, f]) => f)),
  };
}

/** `N fixed, M new, K unchanged`. */
export function diffSummaryLine(diff: CveDiff): string {
  return `${diff.fixed.length} fixed, ${diff.introduced.length} new, ${diff.unchanged.length} unchanged`;
}

/** Introduced findings at or above `severity`: what fails the gate. */
export function newAtOrAbove(diff: CveDiff, severity: FindingSeverity): Finding[] {
  return atOrAbove(diff.introduced, severity);
}
