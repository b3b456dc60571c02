import { usageError } from '@imagewright/core';
import { fromEcrFindings, type EcrFindingsAnswer } from './ecr';
import { atOrAbove, countBySeverity, severityRank, type Finding, type FindingSeverity, type ScanResult } from './finding';

/**
 * The STScI report (ecr-scan-report.yaml): ECR's describe-image-scan-findings answer with only the
 * findings at or above a level, each with a `cve_status`, and `overall_status`, dumped as PyYAML
 * did (block style, every mapping's keys sorted). Existing consumers read these files, so the
 * layout is the original's; what changed is what was wrong: all pages, CRITICAL fails, counts
 * over every finding, and nothing but YAML in it.
 */

export interface StsciReportOptions {
  /** Findings kept: at or above this (IMAGE_VULNERABILITY_LEVEL). */
  level: FindingSeverity;
  /** overall_status is FAILED when a kept finding is at or above this; HIGH (the original's HIGH and CRITICAL) when omitted; 'none' never fails. */
  failLevel?: FindingSeverity | 'none';
  /** A finding's `<release> -- <status>`; the finding's own releaseStatus, else `unknown`, when this gives none. */
  releaseStatus?: (finding: Finding) => string | undefined;
}

export interface StsciReport {
  /** The report as data, keys in the order written. */
  document: Record<string, unknown>;
  yaml: string;
  overallStatus: 'OK' | 'FAILED';
  /** The findings written (at or above the level), in the scan's order. */
  kept: Finding[];
}

/** ECR calls a severity nobody rated UNDEFINED. */
const reportSeverity = (severity: FindingSeverity) => (severity === 'UNKNOWN' ? 'UNDEFINED' : severity);

/** A time as Python's isoformat() of an aware UTC datetime, as the aws CLI printed it: 2020-11-18T21:48:56+00:00. */
export function pythonIsoTime(iso: string): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  const text = date.toISOString(); // 2020-11-18T21:48:56.000Z
  const ms = date.getUTCMilliseconds();
  return `${text.slice(0, 19)}${ms ? `.${String(ms * 1000).padStart(6, '0')}` : ''}+00:00`;
}

/** Attributes as ECR gives them; for other backends' findings, the two the report's readers use. */
function attributesOf(f: Finding): { key: string; value: string }[] {
  if (f.attributes?.length) return f.attributes.map((a) => ({ key: a.key, value: a.value }));
  return [
    { key: 'package_version', value: f.package.version },
    { key: 'package_name', value: f.package.name },
  ];
}

export function stsciReport(result: ScanResult, options: StsciReportOptions): StsciReport {
  const failLevel = options.failLevel ?? 'HIGH';
  const kept = atOrAbove(result.findings, options.level);
  const failed = failLevel !== 'none' && kept.some((f) => severityRank(f.severity) >= severityRank(failLevel));

  const counts: Record<string, number> = {};
  if (result.severityCounts) Object.assign(counts, result.severityCounts);
  else for (const [severity, n] of Object.entries(countBySeverity(result.findings))) if (n) counts[reportSeverity(severity as FindingSeverity)] = n;

  const findings = kept.map((f) => {
    const status = options.releaseStatus?.(f) ?? f.releaseStatus ?? 'unknown';
    return {
      attributes: attributesOf(f),
      cve_status: `${f.id} -- ${reportSeverity(f.severity)} -- ${status}`,
      ...(f.description !== undefined ? { description: f.description } : {}),
      name: f.id,
      severity: reportSeverity(f.severity),
      ...(f.uri !== undefined ? { uri: f.uri } : {}),
    };
  });
  const document: Record<string, unknown> = {
    imageId: { ...(result.digest ? { imageDigest: result.digest } : {}), ...(result.tag ? { imageTag: result.tag } : {}) },
    imageScanFindings: {
      findingSeverityCounts: counts,
      findings,
      ...(result.scannedAt ? { imageScanCompletedAt: pythonIsoTime(result.scannedAt) } : {}),
      ...(result.databaseUpdatedAt ? { vulnerabilitySourceUpdatedAt: pythonIsoTime(result.databaseUpdatedAt) } : {}),
    },
    ...(result.scanStatus ? { imageScanStatus: { ...(result.scanStatus.description !== undefined ? { description: result.scanStatus.description } : {}), status: result.scanStatus.status } } : {}),
    overall_status: failed ? 'FAILED' : 'OK',
    ...(result.registry ? { registryId: result.registry } : {}),
    ...(result.repository ? { repositoryName: result.repository } : {}),
  };
  const YAML = require('yaml') as typeof import('yaml');
  // PyYAML's yaml.dump: sorted keys, sequences not indented under their key, 80 columns, and YAML
  // 1.1 scalars (times and yes/no are quoted, so Python readers get strings back).
  const yaml = YAML.stringify(document, { version: '1.1', sortMapEntries: true, indentSeq: false, singleQuote: true, lineWidth: 80 });
  return { document, yaml, overallStatus: failed ? 'FAILED' : 'OK', kept };
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * An STScI report (YAML text, or its parsed data) back as a ScanResult: the kept findings with
 * their cve_status tails as releaseStatus, and the counts over all findings. ECR's own
 * describe-image-scan-findings JSON (the report without cve_status and overall_status) reads the
 * same way. `source` names the file in errors.
 */
export function readStsciReport(input: unknown, source = 'the report'): ScanResult {
  let doc = input;
  if (typeof input === 'string') {
    try {
      // YAML 1.2's core schema: a timestamp stays the text it was.
      doc = (require('yaml') as typeof import('yaml')).parse(input);
    } catch (error) {
      throw usageError(`${source}: not YAML: ${(error as Error).message.split('\n')[0]}`);
    }
  }
  if (!isObject(doc) || !isObject(doc.imageScanFindings)) throw usageError(`${source}: not an ECR scan report (no imageScanFindings mapping)`);
  const details = doc.imageScanFindings;
  for (const list of ['findings', 'enhancedFindings']) {
    const value = details[list];
    if (value !== undefined && value !== null && !(Array.isArray(value) && value.every(isObject))) throw usageError(`${source}: imageScanFindings.${list} is not a list of mappings`);
  }
  if (doc.registryId !== undefined) doc = { ...doc, registryId: String(doc.registryId) };
  const result = fromEcrFindings(doc as EcrFindingsAnswer);
  // Basic findings come first in fromEcrFindings, in the file's order: cve_status is at the same index.
  ((details.findings ?? []) as Record<string, unknown>[]).forEach((raw, i) => {
    const tail = typeof raw.cve_status === 'string' ? raw.cve_status.split(' -- ').slice(2).join(' -- ') : '';
    if (tail && tail !== 'unknown') result.findings[i].releaseStatus = tail;
  });
  if (isObject(details.findingSeverityCounts)) {
    result.severityCounts = Object.fromEntries(Object.entries(details.findingSeverityCounts).map(([k, v]) => [k, Number(v)]));
  }
  return result;
}
