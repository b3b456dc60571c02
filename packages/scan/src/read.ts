import { readFileSync } from 'node:fs';
import { failure, usageError } from '@imagewright/core';
import { type Backend, type Finding, type ScanResult, SEVERITY_ORDER } from './finding';
import { readStsciReport } from './report';
import { isTrivyReport, trivyFindings } from './trivy';

/**
 * Scan files of every kind users have, told apart by their content: our own `--json`, Trivy's
 * JSON report, ECR's describe-image-scan-findings JSON and the original's ecr-scan-report.yaml.
 * SBOMs (CycloneDX, SPDX) are recognised so that a command can scan them instead.
 */

export type ScanFile = { kind: 'scan'; result: ScanResult } | { kind: 'sbom'; data: unknown };

const BACKENDS: readonly Backend[] = ['ecr', 'trivy', 'osv'];

function isOurScan(data: unknown): data is ScanResult {
  const d = data as ScanResult | null;
  return !!d && typeof d === 'object' && BACKENDS.includes(d.backend) && Array.isArray(d.findings) && typeof d.image === 'string';
}

export function isSbom(data: unknown): boolean {
  const d = data as { bomFormat?: string; spdxVersion?: string } | null;
  return !!d && typeof d === 'object' && (d.bomFormat === 'CycloneDX' || typeof d.spdxVersion === 'string');
}

/** Our own JSON checked enough that a hand-edited file fails with its name, not deep inside. */
function checkedScan(result: ScanResult, name: string): ScanResult {
  result.findings.forEach((f: Finding, i) => {
    const ok = f && typeof f.id === 'string' && (SEVERITY_ORDER as readonly string[]).includes(f.severity) && f.package && typeof f.package.name === 'string';
    if (!ok) throw usageError(`${name}: findings[${i}] is not a finding (id, severity, package.name)`);
    f.aliases ??= [];
  });
  return result;
}

/** What `text` (named `name` in errors) holds. */
export function parseScanText(text: string, name: string): ScanFile {
  let data: unknown;
  const trimmed = text.trimStart();
  try {
    if (trimmed.startsWith('{') || trimmed.startsWith('[')) data = JSON.parse(text);
    else data = (require('yaml') as typeof import('yaml')).parse(text);
  } catch (error) {
    throw usageError(`${name}: neither JSON nor YAML (${(error as Error).message.split('\n')[0]})`);
  }
  if (isOurScan(data)) return { kind: 'scan', result: checkedScan(data, name) };
  if (isTrivyReport(data)) return { kind: 'scan', result: trivyFindings(data) };
  if (isSbom(data)) return { kind: 'sbom', data };
  const d = data as { imageScanFindings?: unknown } | null;
  if (d && typeof d === 'object' && 'imageScanFindings' in d) {
    // ECR's describe-image-scan-findings answer, or the original's report (its superset).
    return { kind: 'scan', result: readStsciReport(data) };
  }
  throw usageError(`${name}: not a scan report; allowed: image-scan --json, a Trivy JSON report, ECR describe-image-scan-findings JSON, ecr-scan-report.yaml, or a CycloneDX/SPDX SBOM`);
}

/** A scan file by path (`-` is stdin). */
export function readScanFile(path: string, what = 'REPORT'): ScanFile {
  let text: string;
  try {
    text = readFileSync(path === '-' ? 0 : path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'EISDIR') throw usageError(`${what} ${path}: no such file; allowed a scan report or SBOM file, or - for stdin`);
    throw failure(`${what} ${path}: ${(error as Error).message}`);
  }
  return parseScanText(text, `${what} ${path}`);
}
