import type { OsvAffected, OsvRecord, OsvSeverity } from './osv';

export type Severity = 'CRITICAL' | 'HIGH' | 'MEDIUM' | 'LOW' | 'UNKNOWN';

/*
 * A record's severity, from the most specific statement to the least:
 *  1. the matched entry's `ecosystem_specific.severity` (e.g. GHSA- and some PyPA records),
 *  2. the record's `database_specific.severity` (GHSA: LOW, MODERATE, HIGH, CRITICAL),
 *  3. Debian's `ecosystem_specific.urgency` (unimportant/low, medium, high; "not yet assigned"),
 *  4. `severity[]` of the entry, then of the record: Ubuntu's priority, then a CVSS 3.x vector
 *     (base score computed here per FIRST's specification), then CVSS 4.0 and 2.0 vectors (scored
 *     with ae-cvss-calculator, loaded only when such a vector is met: 4.0's score comes from a
 *     large lookup table better not copied by hand).
 * Nothing usable: UNKNOWN.
 */
export function severityOf(record: OsvRecord, affected?: OsvAffected): Severity {
  const fromWord = (value: unknown): Severity | undefined => (typeof value === 'string' ? severityWord(value) : undefined);
  return (
    fromWord(affected?.ecosystem_specific?.severity) ??
    fromWord(record.database_specific?.severity) ??
    debianUrgency(affected?.ecosystem_specific?.urgency) ??
    fromScores([...(affected?.severity ?? []), ...(record.severity ?? [])]) ??
    'UNKNOWN'
  );
}

/** CRITICAL/HIGH/MEDIUM/MODERATE/LOW/NEGLIGIBLE in any case; undefined for anything else. */
export function severityWord(word: string): Severity | undefined {
  switch (word.trim().toUpperCase()) {
    case 'CRITICAL':
      return 'CRITICAL';
    case 'HIGH':
    case 'IMPORTANT':
      return 'HIGH';
    case 'MEDIUM':
    case 'MODERATE':
      return 'MEDIUM';
    case 'LOW':
    case 'NEGLIGIBLE':
      return 'LOW';
    default:
      return undefined;
  }
}

function debianUrgency(urgency: unknown): Severity | undefined {
  if (typeof urgency !== 'string') return undefined;
  // The tracker marks guessed urgencies with a trailing `*` or `**`.
  const u = urgency.trim().toLowerCase().replace(/\*+$/, '');
  if (u === 'unimportant' || u === 'low') return 'LOW';
  if (u === 'medium') return 'MEDIUM';
  if (u === 'high') return 'HIGH';
  if (u === 'not yet assigned') return 'UNKNOWN';
  return undefined;
}

function fromScores(scores: OsvSeverity[]): Severity | undefined {
  const of = (type: string) => scores.filter((s) => s.type === type && typeof s.score === 'string');
  for (const s of of('Ubuntu')) {
    const word = severityWord(s.score);
    if (word) return word;
  }
  for (const s of of('CVSS_V3')) {
    const score = cvss3BaseScore(s.score);
    if (score !== undefined) return cvssRating(score);
  }
  for (const type of ['CVSS_V4', 'CVSS_V2']) {
    for (const s of of(type)) {
      const score = libraryScore(s.score, type === 'CVSS_V2' ? CVSS2_BASE : CVSS4_BASE);
      if (score !== undefined) return type === 'CVSS_V2' ? cvss2Rating(score) : cvssRating(score);
    }
  }
  return undefined;
}

/** CVSS 3.x and 4.0 qualitative bands. A 0.0 ("None") counts as LOW: it was rated, just harmless. */
export function cvssRating(score: number): Severity {
  if (score >= 9.0) return 'CRITICAL';
  if (score >= 7.0) return 'HIGH';
  if (score >= 4.0) return 'MEDIUM';
  return 'LOW';
}

/** CVSS 2.0 had no CRITICAL band (NVD: 0–3.9 LOW, 4–6.9 MEDIUM, 7–10 HIGH). */
function cvss2Rating(score: number): Severity {
  return score >= 7.0 ? 'HIGH' : score >= 4.0 ? 'MEDIUM' : 'LOW';
}

const CVSS3_WEIGHTS: Record<string, Record<string, number>> = {
  AV: { N: 0.85, A: 0.62, L: 0.55, P: 0.2 },
  AC: { L: 0.77, H: 0.44 },
  PR: { N: 0.85, L: 0.62, H: 0.27 },
  UI: { N: 0.85, R: 0.62 },
  S: { U: 0, C: 1 },
  C: { H: 0.56, L: 0.22, N: 0 },
  I: { H: 0.56, L: 0.22, N: 0 },
  A: { H: 0.56, L: 0.22, N: 0 },
};

/**
 * The base score of a `CVSS:3.0/…` or `CVSS:3.1/…` vector (FIRST CVSS v3.1 specification §7.1 and
 * Appendix A's Roundup; 3.0 rounds up naively); undefined when the vector is not valid.
 * Temporal and environmental metrics may follow and are ignored: OSV states base vectors.
 */
export function cvss3BaseScore(vector: string): number | undefined {
  const parts = vector.trim().split('/');
  const version = /^CVSS:3\.([01])$/.exec(parts[0] ?? '');
  if (!version) return undefined;
  const m: Record<string, string> = {};
  for (const part of parts.slice(1)) {
    const [key, value, extra] = part.split(':');
    if (value === undefined || extra !== undefined || key in m) return undefined;
    m[key] = value;
  }
  for (const key of Object.keys(CVSS3_WEIGHTS)) {
    if (!(m[key] in CVSS3_WEIGHTS[key])) return undefined;
  }
  const w = (key: string) => CVSS3_WEIGHTS[key][m[key]];
  const changed = m.S === 'C';
  // Privileges Required weighs more when the scope changes.
  const pr = changed && m.PR === 'L' ? 0.68 : changed && m.PR === 'H' ? 0.5 : w('PR');
  const iss = 1 - (1 - w('C')) * (1 - w('I')) * (1 - w('A'));
  const impact = changed ? 7.52 * (iss - 0.029) - 3.25 * Math.pow(iss - 0.02, 15) : 6.42 * iss;
  const exploitability = 8.22 * w('AV') * w('AC') * pr * w('UI');
  if (impact <= 0) return 0;
  const roundUp = version[1] === '1' ? roundUp31 : (x: number) => Math.ceil(x * 10) / 10;
  return changed ? roundUp(Math.min(1.08 * (impact + exploitability), 10)) : roundUp(Math.min(impact + exploitability, 10));
}

// CVSS 3.1 Appendix A: the smallest one-decimal number ≥ input, immune to floating-point noise.
function roundUp31(input: number): number {
  const intInput = Math.round(input * 100000);
  if (intInput % 10000 === 0) return intInput / 100000;
  return (Math.floor(intInput / 10000) + 1) / 10;
}

interface CvssLibrary {
  fromVector(vector: string): { calculateScores(): { base?: number } } | undefined;
}

const CVSS2_BASE = ['AV', 'AC', 'Au', 'C', 'I', 'A'];
const CVSS4_BASE = ['AV', 'AC', 'AT', 'PR', 'UI', 'VC', 'VI', 'VA', 'SC', 'SI', 'SA'];

// The library scores a vector missing base metrics as 0; such a vector is no rating at all.
function libraryScore(vector: string, required: string[]): number | undefined {
  const keys = new Set(vector.trim().split('/').map((part) => part.split(':')[0]));
  if (!required.every((key) => keys.has(key))) return undefined;
  try {
    const lib = require('ae-cvss-calculator') as CvssLibrary;
    const base = lib.fromVector(vector.trim())?.calculateScores().base;
    return typeof base === 'number' && Number.isFinite(base) ? base : undefined;
  } catch {
    return undefined;
  }
}
