import type { OptionSpec } from '@imagewright/core';
import type { Backend } from './finding';

/** The scan options image-scan and image-cve-diff share: plain data, cheap for a bin's --help. */
export const SCAN_OPTIONS: Record<string, OptionSpec> = {
  backend: { type: 'string', value: 'NAME', description: 'ecr, trivy or osv (default: deployment.yaml scan.backend, else ecr for an ECR registry, else osv)' },
  advisories: { type: 'string', value: 'URL|DIR|ZIP', description: 'osv: an OSV API base URL (default https://api.osv.dev), a directory of OSV records or an all.zip' },
  'db-repository': { type: 'string', value: 'REPO', description: "trivy: passed to trivy's --db-repository" },
  'cache-dir': { type: 'string', value: 'DIR', description: "trivy: passed to trivy's --cache-dir" },
  offline: { type: 'boolean', description: 'trivy: --skip-db-update --offline-scan (the DB must be in the cache)' },
  'ignore-unfixed': { type: 'boolean', description: 'trivy: leave out findings without a fix' },
  timeout: { type: 'string', value: 'DURATION', description: 'ecr: how long to wait for the scan (default 15m); trivy: its --timeout' },
};

export const BACKENDS: readonly Backend[] = ['ecr', 'trivy', 'osv'];
