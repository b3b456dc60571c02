import { failure } from '@imagewright/core';
import { classOfType, type Finding, normalizeSeverity, type ScanResult } from './finding';

/**
 * Trivy's JSON report (`trivy image --format json`, SchemaVersion 2) as findings, and a run of the
 * trivy binary on an image. Counts come from `Results[].Vulnerabilities[]`, never from the text
 * (Canonical's scan.sh counted `grep CRITICAL | wc -l`, LOW inside OVERFLOW included).
 */

interface TrivyVulnerability {
  VulnerabilityID: string;
  VendorIDs?: string[];
  PkgName: string;
  PkgPath?: string;
  PkgIdentifier?: { PURL?: string };
  InstalledVersion?: string;
  FixedVersion?: string;
  Status?: string;
  Layer?: { DiffID?: string };
  PrimaryURL?: string;
  Title?: string;
  Description?: string;
  Severity?: string;
}

interface TrivyResult {
  Target?: string;
  Class?: string;
  Type?: string;
  Vulnerabilities?: TrivyVulnerability[] | null;
}

export interface TrivyReport {
  SchemaVersion?: number;
  CreatedAt?: string;
  ArtifactName?: string;
  Metadata?: { OS?: { Family?: string; Name?: string }; ImageID?: string; RepoDigests?: string[]; RepoTags?: string[] };
  Results?: TrivyResult[] | null;
}

/** Trivy's analyzer types as purl types (a finding without a PURL still gets its ecosystem). */
const TYPE_OF: Record<string, string> = {
  debian: 'deb', ubuntu: 'deb', alpine: 'apk', wolfi: 'apk', chainguard: 'apk',
  redhat: 'rpm', centos: 'rpm', rocky: 'rpm', alma: 'rpm', amazon: 'rpm', oracle: 'rpm', fedora: 'rpm', 'cbl-mariner': 'rpm', azurelinux: 'rpm', photon: 'rpm', suse: 'rpm', 'opensuse.leap': 'rpm', 'opensuse.tumbleweed': 'rpm',
  'python-pkg': 'pypi', pip: 'pypi', pipenv: 'pypi', poetry: 'pypi', uv: 'pypi', 'conda-pkg': 'conda', 'conda-environment': 'conda',
  npm: 'npm', 'node-pkg': 'npm', yarn: 'npm', pnpm: 'npm', gobinary: 'golang', gomod: 'golang', jar: 'maven', pom: 'maven', gradle: 'maven',
  bundler: 'gem', gemspec: 'gem', cargo: 'cargo', rustbinary: 'cargo', composer: 'composer', nuget: 'nuget', 'dotnet-core': 'nuget',
};

/** A Trivy JSON report is one when it has SchemaVersion and Results (or ArtifactName). */
export function isTrivyReport(data: unknown): data is TrivyReport {
  const d = data as TrivyReport | null;
  return !!d && typeof d === 'object' && typeof d.SchemaVersion === 'number' && ('Results' in d || 'ArtifactName' in d);
}

function purlType(purl: string | undefined): string | undefined {
  const match = /^pkg:([a-zA-Z0-9.+-]+)\//.exec(purl ?? '');
  return match?.[1].toLowerCase();
}

/** The findings of a Trivy JSON report (SchemaVersion 2). `image` names it when the report's ArtifactName should not. */
export function trivyFindings(report: TrivyReport, image?: string): ScanResult {
  if (report.SchemaVersion !== 2) throw failure(`Trivy report: SchemaVersion ${report.SchemaVersion}, only 2 is read`);
  const findings: Finding[] = [];
  for (const result of report.Results ?? []) {
    for (const v of result.Vulnerabilities ?? []) {
      const type = purlType(v.PkgIdentifier?.PURL) ?? TYPE_OF[result.Type ?? ''] ?? (result.Type ?? '');
      findings.push({
        id: v.VulnerabilityID,
        aliases: (v.VendorIDs ?? []).filter((id) => id !== v.VulnerabilityID),
        severity: normalizeSeverity(v.Severity),
        package: {
          name: v.PkgName,
          version: v.InstalledVersion ?? '',
          type,
          // Trivy's Class says it; older reports without one fall back to the package type.
          class: result.Class === 'os-pkgs' ? 'os' : result.Class === 'lang-pkgs' ? 'lang' : classOfType(type),
          ...(v.PkgIdentifier?.PURL ? { purl: v.PkgIdentifier.PURL } : {}),
          ...(v.PkgPath ? { path: v.PkgPath } : {}),
          ...(v.Layer?.DiffID ? { layer: v.Layer.DiffID } : {}),
        },
        ...(v.FixedVersion ? { fixedVersion: v.FixedVersion } : {}),
        ...(v.Status ? { status: v.Status } : {}),
        ...(v.Title ? { title: v.Title } : {}),
        ...(v.Description ? { description: v.Description } : {}),
        ...(v.PrimaryURL ? { uri: v.PrimaryURL } : {}),
      });
    }
  }
  const os = report.Metadata?.OS;
  return {
    image: image ?? report.ArtifactName ?? 'unknown',
    ...(report.Metadata?.RepoDigests?.[0] ? { digest: report.Metadata.RepoDigests[0].replace(/^.*@/, '') } : report.Metadata?.ImageID ? { digest: report.Metadata.ImageID } : {}),
    ...(os?.Family ? { distro: `${os.Family} ${os.Name ?? ''}`.trim() } : {}),
    backend: 'trivy',
    ...(report.CreatedAt ? { scannedAt: report.CreatedAt } : {}),
    findings,
  };
}

export interface TrivyRunOptions {
  /** The trivy binary: TRIVY from the environment, else `trivy` on PATH. */
  binary?: string;
  /** Passed through: --db-repository, --java-db-repository, --cache-dir, --timeout. */
  dbRepository?: string;
  cacheDir?: string;
  timeout?: string;
  /** --skip-db-update --offline-scan: no network at all (the DB must be in the cache). */
  offline?: boolean;
  /** --ignore-unfixed, as Canonical's scans ran. */
  ignoreUnfixed?: boolean;
  env?: NodeJS.ProcessEnv;
}

/**
 * Trivy's report on an image: `trivy image --format json` on an Engine reference, or `--input` on
 * a `docker save` / OCI archive. Trivy's own failure (no DB offline, image not found) is ours,
 * exit 1, with its last error line.
 */
export async function runTrivy(target: { ref: string } | { archive: string }, options: TrivyRunOptions = {}): Promise<TrivyReport> {
  const env = options.env ?? process.env;
  const binary = options.binary ?? env.TRIVY ?? 'trivy';
  const args = ['image', '--quiet', '--format', 'json', '--scanners', 'vuln'];
  if (options.dbRepository) args.push('--db-repository', options.dbRepository);
  if (options.cacheDir) args.push('--cache-dir', options.cacheDir);
  if (options.timeout) args.push('--timeout', options.timeout);
  if (options.offline) args.push('--skip-db-update', '--skip-java-db-update', '--offline-scan');
  if (options.ignoreUnfixed) args.push('--ignore-unfixed');
  if ('archive' in target) args.push('--input', target.archive);
  else args.push(target.ref);
  const { $ } = require('zx') as typeof import('zx');
  const run = await $({ env, quiet: true, nothrow: true })`${binary} ${args}`;
  if (run.exitCode !== 0) {
    const last = run.stderr.trim().split('\n').filter(Boolean).pop() ?? '';
    if (run.exitCode === 127 || /ENOENT|not found/.test(last) && !last.includes('image')) {
      throw failure(`trivy: not found (${binary}); install Trivy or set TRIVY=/path/to/trivy, or use --report FILE or --backend osv`);
    }
    // Trivy's log line `2024-…Z\tERROR\tmessage` as its message.
    const message = last.replace(/\x1b\[[0-9;]*m/g, '').replace(/^\d{4}-\d\d-\d\dT\S+\s+(?:FATAL|ERROR|WARN|INFO|DEBUG)\s+/, '').trim();
    // Some builds fail a DB download with no word at all under --quiet: say where to look.
    throw failure(`trivy exited ${run.exitCode}: ${message || 'no error message (a vulnerability DB download that failed is one cause: --offline with a DB in --cache-dir, --db-repository, or --backend osv)'}`);
  }
  try {
    return JSON.parse(run.stdout) as TrivyReport;
  } catch {
    throw failure('trivy: its output is not JSON');
  }
}
