#!/usr/bin/env -S node --
import { command, usageError } from '@imagewright/core/bin';

command({
  name: 'image-scan-report',
  summary: "Write the original's ecr-scan-report.yaml: ECR's scan findings at or above a level, each with its release status, and overall_status.",
  // IMAGE taken here rather than as image: 'positional', so that the ECR target sees it was given.
  image: 'option',
  args: '[IMAGE]',
  positionals: { max: 1 },
  description: `
The findings come from ECR's scan of the pushed image (IMAGE_REPO at PUSH_TAG, or IMAGE's
repository:tag, or --image-digest): every page, waiting while ECR says IN_PROGRESS (progress on
stderr) up to --timeout; a tag unscanned-X that ECR no longer has is read as X (the quarantine
retagged it). --report FILE builds the report from an existing findings file instead (ECR JSON,
ecr-scan-report.yaml, a Trivy JSON report, image-scan --json).

The YAML keeps the original's layout (keys sorted as PyYAML wrote them): findingSeverityCounts
over all findings, findings at or above --level, each with
  cve_status: <CVE> -- <SEVERITY> -- <release> -- <status>
from Ubuntu's tracker (ubuntu.com/security/cves, or IMAGEWRIGHT_UBUNTU_TRACKER) or Debian's
(security-tracker.debian.org, or IMAGEWRIGHT_DEBIAN_TRACKER) for the release --release names (a
substring of its name, e.g. 20.04 or focal); one lookup per CVE, many at a time; any lookup that
fails is "unknown". --no-status skips the lookups.
overall_status is FAILED when a kept finding is at or above --fail-on (default HIGH: HIGH and
CRITICAL, as the original meant); the exit code is then 1.`,
  config: 'lazy',
  options: {
    level: { type: 'string', value: 'LEVEL', description: 'keep findings at or above LEVEL: critical, high, medium, low, informational, all (default IMAGE_VULNERABILITY_LEVEL)' },
    release: { type: 'string', value: 'NAME', description: 'the release whose status is looked up, a name substring (default IMAGE_UBUNTU_NAME)' },
    'fail-on': { type: 'string', value: 'SEVERITY', description: 'overall_status FAILED (exit 1) when a kept finding is at or above it (default high; none: never)' },
    'no-status': { type: 'boolean', description: "no tracker lookups (a --report file's own statuses stay, the rest are unknown)" },
    'image-digest': { type: 'string', value: 'DIGEST', description: "ECR: the pushed image by digest instead of tag" },
    report: { type: 'string', value: 'FILE', description: 'build the report from a findings file instead of ECR (- for stdin)' },
    timeout: { type: 'string', value: 'DURATION', description: "how long to wait for ECR's scan: 90s, 15m, 1h (default 15m)" },
    output: { type: 'string', short: 'o', value: 'FILE', description: 'write the YAML to FILE (atomically) instead of stdout' },
  },
  conflicts: [
    ['report', 'image'],
    ['report', 'image-digest'],
    ['report', 'timeout'],
    ['no-status', 'release'],
  ],
  engineVersion: (env) => (require('@imagewright/docker') as typeof import('@imagewright/docker')).engineApiVersion(env),
  async run(ctx) {
    const { values, out, env } = ctx;
    // Loaded here, not at the top: --help and usage errors never pay for them.
    const scan = require('@imagewright/scan') as typeof import('@imagewright/scan');
    const report = values.report as string | undefined;
    if (report !== undefined && ctx.positionals.length > 0) throw usageError('give IMAGE or --report FILE, not both');
    if (values.image !== undefined && ctx.positionals.length > 0) throw usageError(`the image is given twice (--image ${values.image} and ${ctx.positionals[0]}): give it once`);
    if (ctx.positionals[0] === '') throw usageError('IMAGE is empty: allowed REPOSITORY[:TAG|@DIGEST]');

    // Defaults from the config when there is one; --report with explicit options needs none.
    const config = (): import('@imagewright/core').Config | undefined => {
      try {
        return ctx.loaded.config;
      } catch (error) {
        if (report === undefined || values['setup-env'] || env.IMAGEWRIGHT_SETUP_ENV) throw error;
        return undefined;
      }
    };
    const levelText = (values.level as string | undefined) ?? config()?.IMAGE_VULNERABILITY_LEVEL ?? 'medium';
    const level = scan.parseSeverity(levelText, values.level === undefined ? 'IMAGE_VULNERABILITY_LEVEL' : '--level')!;
    const failOn = values['fail-on'] === undefined ? 'HIGH' : scan.parseSeverity(values['fail-on'] as string, '--fail-on', { allowNone: true });
    const release = values['no-status'] ? undefined : ((values.release as string | undefined) ?? config()?.IMAGE_UBUNTU_NAME ?? '');
    const cmd = require('@imagewright/scan/command') as typeof import('@imagewright/scan/command');
    const timeoutMs = values.timeout === undefined ? 15 * 60_000 : cmd.parseDuration(values.timeout as string, '--timeout');

    let result: import('@imagewright/scan').ScanResult;
    if (report !== undefined) {
      const file = scan.readScanFile(report, '--report');
      if (file.kind !== 'scan') throw usageError(`--report ${report}: an SBOM, not findings; allowed ECR JSON, ecr-scan-report.yaml, Trivy JSON or image-scan --json (image-scan --sbom scans an SBOM)`);
      result = file.result;
    } else {
      // ECR's scan of the pushed image, located from the config (ECR_ACCOUNT_ID, AWS_REGION, ADMIN_ARN, IMAGE_REPO, PUSH_TAG).
      const settings = { backend: 'ecr' as const, advisories: '', trivy: { env }, timeoutMs };
      const input = ctx.positionals[0] ?? ctx.image;
      result = await cmd.scanInput(settings, { input, what: values.image === undefined ? 'IMAGE' : '--image', onProgress: (line) => out.info(line) }, ctx);
    }

    const kept = scan.atOrAbove(result.findings, level);
    let statusOf: ((f: import('@imagewright/scan').Finding) => string | undefined) | undefined;
    if (release !== undefined) {
      if (!release && !result.distro) out.info('no release to look statuses up for: set --release NAME or IMAGE_UBUNTU_NAME (e.g. 22.04); cve_status ends in unknown');
      const lookup = new scan.ReleaseStatusLookup({ release, distro: result.distro, env });
      const statuses = await lookup.statuses(kept).finally(() => lookup.close());
      // A lookup that failed keeps what a --report file already said, if anything.
      statusOf = (f) => {
        const status = statuses.get(f);
        return status === 'unknown' ? (f.releaseStatus ?? status) : status;
      };
    }
    // --no-status: no lookups; a --report file's own statuses stay.
    const written = scan.stsciReport(result, { level, failLevel: failOn ?? 'none', releaseStatus: statusOf });
    const yaml = written.yaml;
    if (values.output !== undefined) {
      const { writeFileAtomic } = require('@imagewright/core') as typeof import('@imagewright/core');
      writeFileAtomic(values.output as string, yaml);
    } else {
      out.stdout.write(yaml);
    }
    const known = kept.filter((f) => (statusOf?.(f) ?? f.releaseStatus ?? 'unknown') !== 'unknown').length;
    out.info(`${result.image}: ${kept.length} of ${result.findings.length} findings at or above ${level}, ${known} with a release status; overall_status ${written.overallStatus}`);
    return written.overallStatus === 'FAILED' ? 1 : 0;
  },
});
