#!/usr/bin/env -S node --
import { command, usageError } from '@imagewright/core/bin';

command({
  name: 'image-scan-summarize',
  summary: 'Severity counts per image from scan reports: IMAGE | BASE | CRITICAL | HIGH | MEDIUM | LOW.',
  args: '[REPORT...]',
  description: `
REPORT is any scan file: image-scan --json, a Trivy JSON report, ECR's describe-image-scan-findings
JSON or the original's ecr-scan-report.yaml (told apart by content); - or no REPORT reads stdin
(image-scan --json | image-scan-summarize). Counts come from the findings, never from the text
(the originals' grep | wc -l also counted LOW inside OVERFLOW). A count shows "total (os+lang)"
when both OS and language packages have findings of that severity.
  (default)    a table on a terminal, the same rows as plain lines in a pipe
  --csv        Canonical's CSV: IMAGE,BASE,CRITICAL,…,LOW,CRITICAL-OS,CRITICAL-LANG,…,LOW-LANG
  --markdown   a Markdown table for a CI step summary (>> $GITHUB_STEP_SUMMARY)
  --lines      one tab-separated line per finding (image, severity, id, package, version,
               fixed version, os|lang), highest severity first: for grep and cut
  --json       [{image, base, backend, total, counts, os, lang}]
Also installed as image-scan-summary, the original's name.`,
  json: true,
  positionals: { max: Infinity },
  options: {
    csv: { type: 'boolean', description: "Canonical's CSV columns" },
    markdown: { type: 'boolean', description: 'a Markdown table (CI step summary)' },
    lines: { type: 'boolean', description: 'one grep-able line per finding' },
  },
  conflicts: [['csv', 'markdown', 'lines', 'json']],
  engineVersion: (env) => (require('@imagewright/docker') as typeof import('@imagewright/docker')).engineApiVersion(env),
  run(ctx) {
    const { out, values } = ctx;
    const scan = require('@imagewright/scan') as typeof import('@imagewright/scan');
    const paths = ctx.positionals.length ? ctx.positionals : ['-'];
    if (paths.filter((p) => p === '-').length > 1) throw usageError('REPORT -: stdin can be read once');
    if (paths.includes('-') && process.stdin.isTTY) throw usageError('REPORT: give a report file, or pipe one in (stdin is a terminal)');
    const results = paths.map((path) => {
      const file = scan.readScanFile(path);
      if (file.kind === 'sbom') throw usageError(`REPORT ${path}: an SBOM has no findings; scan it first (image-scan --sbom ${path} --json)`);
      return file.result;
    });
    if (values.lines) {
      for (const result of results) for (const line of scan.findingLines(result)) out.line(line);
      return 0;
    }
    const summaries = results.map(scan.summarize);
    if (out.json) out.printJson(summaries);
    else if (values.csv) out.stdout.write(scan.summaryCsv(summaries));
    else if (values.markdown) out.stdout.write(scan.summaryMarkdown(summaries));
    else if (out.tty) out.table(scan.SUMMARY_HEADERS, scan.summaryRows(summaries));
    else for (const row of scan.summaryRows(summaries)) out.line(row.join(' | '));
    return 0;
  },
});
