import { COUNTED_SEVERITIES, compareFindings, countBySeverity, type ScanResult, type SeverityCounts } from './finding';

/**
 * Per-image severity counts as Canonical's get-summary.py computed them (from the findings, OS
 * packages apart from language packages), and the table, CSV, Markdown and line forms of them.
 */

export interface ImageSummary {
  image: string;
  /** The base distribution (`debian 12`), '' when unknown. */
  base: string;
  backend: string;
  total: number;
  counts: SeverityCounts;
  os: SeverityCounts;
  lang: SeverityCounts;
}

export function summarize(result: ScanResult): ImageSummary {
  return {
    image: result.image,
    base: result.distro ?? '',
    backend: result.backend,
    total: result.findings.length,
    counts: countBySeverity(result.findings),
    os: countBySeverity(result.findings.filter((f) => f.package.class === 'os')),
    lang: countBySeverity(result.findings.filter((f) => f.package.class === 'lang')),
  };
}

export const SUMMARY_HEADERS = ['IMAGE', 'BASE', ...COUNTED_SEVERITIES];

/** One row per image: total per severity, with `os+lang` when both kinds have some. */
export function summaryRows(summaries: ImageSummary[]): string[][] {
  return summaries.map((s) => [
    s.image,
    s.base || '-',
    ...COUNTED_SEVERITIES.map((sev) => {
      const { os, lang } = { os: s.os[sev], lang: s.lang[sev] };
      return os && lang ? `${os + lang} (${os}+${lang})` : String(os + lang);
    }),
  ]);
}

/** Canonical's CSV: IMAGE,BASE,CRITICAL,HIGH,MEDIUM,LOW,CRITICAL-OS,CRITICAL-LANG,…,LOW-LANG. */
export function summaryCsv(summaries: ImageSummary[]): string {
  const quote = (cell: string) => (/[",\n]/.test(cell) ? `"${cell.replace(/"/g, '""')}"` : cell);
  const header = ['IMAGE', 'BASE', ...COUNTED_SEVERITIES, ...COUNTED_SEVERITIES.flatMap((s) => [`${s}-OS`, `${s}-LANG`])];
  const rows = summaries.map((s) => [
    s.image,
    s.base,
    ...COUNTED_SEVERITIES.map((sev) => String(s.counts[sev])),
    ...COUNTED_SEVERITIES.flatMap((sev) => [String(s.os[sev]), String(s.lang[sev])]),
  ]);
  return [header, ...rows].map((row) => row.map(quote).join(',')).join('\n') + '\n';
}

const mdCell = (text: string) => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');

/** A GitHub-flavoured Markdown table, for a CI step summary ($GITHUB_STEP_SUMMARY). */
export function markdownTable(headers: string[], rows: string[][]): string {
  return [
    `| ${headers.map(mdCell).join(' | ')} |`,
    `| ${headers.map(() => '--').join(' | ')} |`,
    ...rows.map((row) => `| ${row.map(mdCell).join(' | ')} |`),
  ].join('\n') + '\n';
}

export function summaryMarkdown(summaries: ImageSummary[]): string {
  return `### CVEs per image\n\n${markdownTable(SUMMARY_HEADERS, summaryRows(summaries))}`;
}

/**
 * One tab-separated line per finding, for grep and cut: image, severity, id, package, installed
 * version, fixed version ('-' when none), class (os|lang). Highest severity first.
 */
export function findingLines(result: ScanResult): string[] {
  return [...result.findings].sort(compareFindings).map((f) =>
    [result.image, f.severity, f.id, f.package.name, f.package.version || '-', f.fixedVersion || '-', f.package.class].join('\t'),
  );
}

/** `demo:latest (osv, debian 12): 3 findings: 0 critical, 1 high, 2 medium, 0 low, 0 other; 1 ignored`. */
export function scanSummaryLine(result: ScanResult, ignored = 0): string {
  const counts = countBySeverity(result.findings);
  const other = counts.UNKNOWN + counts.INFORMATIONAL;
  const about = [result.backend, result.distro].filter(Boolean).join(', ');
  const n = result.findings.length;
  return (
    `${result.image} (${about}): ${n} finding${n === 1 ? '' : 's'}: ` +
    `${COUNTED_SEVERITIES.map((s) => `${counts[s]} ${s.toLowerCase()}`).join(', ')}, ${other} other` +
    (ignored ? `; ${ignored} ignored` : '')
  );
}
