import { atOrAbove, compareFindings, type Finding, type FindingSeverity, type ScanResult } from './finding';

/**
 * The gate of a scan: ignores applied (an ignore file of advisory ids, with expiry dates), then
 * whatever remains at or above the fail level fails it. The original's exit code was always 0.
 */

export interface IgnoredFinding {
  id: string;
  package: string;
  /** The ignore rule that matched, as written. */
  rule: string;
}

export interface Gate {
  /** undefined: no threshold (`--fail-on none`). */
  failOn?: FindingSeverity;
  passed: boolean;
  /** Findings at or above failOn after ignores. */
  failing: number;
  /** Ids of the failing findings, highest first. */
  failingIds: string[];
  ignored: IgnoredFinding[];
  /** Ignore rules that matched nothing, and rules past their expiry date (they ignore nothing). */
  stale: string[];
  expired: string[];
}

export interface GatedScan {
  /** The scan with ignored findings taken out. */
  result: ScanResult;
  gate: Gate;
}

/** Ignore rules read from `ignoreFile` (safety.ignore / .trivyignore formats, see @imagewright/advisories). */
export function gateScan(result: ScanResult, failOn: FindingSeverity | undefined, ignoreFile?: string, today: Date = new Date()): GatedScan {
  let kept = result.findings;
  let ignored: IgnoredFinding[] = [];
  let stale: string[] = [];
  let expired: string[] = [];
  if (ignoreFile) {
    const { readIgnoreFile, applyIgnores } = require('@imagewright/advisories') as typeof import('@imagewright/advisories');
    const rules = readIgnoreFile(ignoreFile);
    const applied = applyIgnores(result.findings, rules, today);
    kept = applied.kept;
    // A rule as people find it in their file: `ID (until DATE) at file:line`.
    const shown = (rule: (typeof rules)[number]) => `${rule.id}${rule.expires ? ` (until ${rule.expires})` : ''} at ${rule.where}`;
    ignored = applied.ignored.map(({ item, rule }) => ({ id: item.id, package: item.package.name, rule: shown(rule) }));
    stale = applied.stale.map(shown);
    expired = applied.expired.map(shown);
  }
  const failing: Finding[] = failOn ? atOrAbove(kept, failOn).sort(compareFindings) : [];
  return {
    result: { ...result, findings: kept },
    gate: {
      ...(failOn ? { failOn } : {}),
      passed: failing.length === 0,
      failing: failing.length,
      failingIds: [...new Set(failing.map((f) => f.id))],
      ignored,
      stale,
      expired,
    },
  };
}

/** `gate passed: nothing at or above HIGH` / `gate FAILED: 2 findings at or above HIGH (CVE-…, …)`. */
export function gateLine(gate: Gate): string {
  if (!gate.failOn) return 'gate: none (--fail-on none)';
  if (gate.passed) return `gate passed: nothing at or above ${gate.failOn}`;
  const ids = gate.failingIds.slice(0, 5).join(', ') + (gate.failingIds.length > 5 ? ', …' : '');
  return `gate FAILED: ${gate.failing} finding${gate.failing === 1 ? '' : 's'} at or above ${gate.failOn} (${ids})`;
}
