#!/usr/bin/env -S node --
import { command, usageError } from '@imagewright/core/bin';
import { SCAN_OPTIONS } from '@imagewright/scan/options';

command({
  name: 'image-scan',
  summary: "Scan an image's packages for vulnerabilities (ECR, Trivy or OSV advisories); exit 1 when a finding at or above --fail-on remains.",
  image: 'positional',
  description: `
IMAGE (or --image; default IMAGE_ID) is any image location: an Engine image (REF or
docker-daemon:REF), docker://REF, docker-archive:FILE[:REF], oci:DIR[:REF], oci-archive:FILE[:REF].
Backends, one finding model for all three:
  osv    our SBOM of the image (image-sbom: read from the layers, no container, no pull) matched
         against OSV advisories: the API (--advisories URL, default https://api.osv.dev, or
         IMAGEWRIGHT_OSV_URL) or an offline database (a directory of OSV records, OSV's per-
         ecosystem all.zip, or a directory of those); dpkg, apk and PEP 440 version ordering.
  trivy  \`trivy image --format json\` (trivy on PATH, or TRIVY=/path); --db-repository,
         --cache-dir, --offline, --ignore-unfixed and --timeout are passed through.
  ecr    ECR's scan of the pushed image (IMAGE_REPO at PUSH_TAG, or --image's repository:tag,
         or --image-digest): every page of findings, waiting for COMPLETE up to --timeout
         (default 15m) with progress on stderr; unscanned-X falls back to X.
The backend: --backend, else deployment.yaml's scan.backend, else ecr when the registry is ECR,
else osv. --report FILE reads findings from an existing report (Trivy JSON, image-scan --json,
ECR JSON, ecr-scan-report.yaml) instead of scanning; --sbom FILE scans a CycloneDX/SPDX SBOM.

--ignore FILE (or deployment.yaml's scan.ignore): advisory ids or aliases to leave out, one a
line (# comments; safety.ignore table rows; \`ID exp:YYYY-MM-DD\` expires); rules that match
nothing are reported as stale. The gate: exit 1 when a finding at or above --fail-on remains
(default: deployment.yaml's scan.fail-on, else HIGH, or IMAGE_VULNERABILITY_LEVEL when that is
higher; \`none\` for no gate). --severity MIN shows only findings at or above MIN.
Output: a table on a terminal, tab-separated lines in a pipe (as image-scan-summarize --lines),
--json the scan {image, digest, distro, backend, findings, ignored, gate}; -o FILE also writes
that JSON (image-cve-diff and image-scan-summarize read it).`,
  config: 'lazy',
  json: true,
  options: {
    ...SCAN_OPTIONS,
    'fail-on': { type: 'string', value: 'SEVERITY', description: 'exit 1 when a finding at or above it remains (critical, high, medium, low, all, none)' },
    ignore: { type: 'string', value: 'FILE', description: 'advisory ids to ignore (safety.ignore or .trivyignore format)' },
    severity: { type: 'string', value: 'MIN', description: 'show only findings at or above MIN' },
    report: { type: 'string', value: 'FILE', description: 'read findings from a report instead of scanning' },
    sbom: { type: 'string', value: 'FILE', description: 'scan a CycloneDX or SPDX SBOM against OSV advisories' },
    'image-digest': { type: 'string', value: 'DIGEST', description: 'ecr: the pushed image by digest instead of tag' },
    output: { type: 'string', short: 'o', value: 'FILE', description: 'also write the JSON result to FILE' },
  },
  conflicts: [['report', 'sbom', 'image'], ['report', 'sbom', 'image-digest']],
  engineVersion: (env) => (require('@imagewright/docker') as typeof import('@imagewright/docker')).engineApiVersion(env),
  async run(ctx) {
    const { out, values, env } = ctx;
    const scan = require('@imagewright/scan') as typeof import('@imagewright/scan');
    const cmd = require('@imagewright/scan/command') as typeof import('@imagewright/scan/command');
    const settings = cmd.scanSettings(ctx);
    const failOn = cmd.failLevel(ctx, settings.failOnSpec);
    const shown = values.severity === undefined ? undefined : scan.parseSeverity(values.severity as string, '--severity');
    const file = (values.report ?? values.sbom) as string | undefined;
    if (file !== undefined && !cmd.isFileInput(file)) throw usageError(`--${values.report ? 'report' : 'sbom'} ${file}: no such file`);
    if (values.sbom !== undefined && settings.backend !== 'osv' && values.backend !== undefined) {
      throw usageError(`--sbom goes with --backend osv (the backend is ${settings.backend})`);
    }
    const input = file ?? ctx.image;
    const what = values.report ? '--report' : values.sbom ? '--sbom' : values.image === undefined ? 'IMAGE' : '--image';
    const result = await cmd.scanInput(settings, { input, what, onProgress: (line) => out.info(line) }, ctx);
    if (values.sbom !== undefined && result.backend !== 'osv') throw usageError(`--sbom ${file}: not an SBOM; allowed a CycloneDX or SPDX JSON file (use --report for scan reports)`);
    const ignoreFile = (values.ignore as string | undefined) ?? settings.ignore;
    const { result: kept, gate } = scan.gateScan(result, failOn, ignoreFile);
    const document = { ...kept, ignored: gate.ignored, gate };
    if (values.output) {
      const { writeFileAtomic } = require('@imagewright/core') as typeof import('@imagewright/core');
      writeFileAtomic(values.output as string, `${JSON.stringify(document, null, 2)}\n`);
    }
    if (out.json) {
      out.printJson(document);
      return gate.passed ? 0 : 1;
    }
    const listed = shown ? { ...kept, findings: scan.atOrAbove(kept.findings, shown) } : kept;
    if (out.tty) {
      const rows = [...listed.findings].sort(scan.compareFindings).map((f) => [f.severity, f.id, f.package.name, f.package.version || '-', f.fixedVersion || '-', f.package.class]);
      if (rows.length) out.table(['SEVERITY', 'ID', 'PACKAGE', 'VERSION', 'FIXED', 'CLASS'], rows);
    } else {
      for (const line of scan.findingLines(listed)) out.line(line);
    }
    // The verdict: on stdout at a terminal, on stderr in a pipe (stdout stays data).
    const say = (text: string) => (out.tty ? out.line(text) : out.info(text));
    say(`image-scan: ${scan.scanSummaryLine(kept, gate.ignored.length)}`);
    for (const rule of gate.stale) say(`image-scan: stale ignore rule (matched nothing): ${rule}`);
    for (const rule of gate.expired) say(`image-scan: expired ignore rule (ignores nothing): ${rule}`);
    const line = `image-scan: ${scan.gateLine(gate)}`;
    say(gate.passed ? out.green(line) : out.red(line));
    return gate.passed ? 0 : 1;
  },
});
