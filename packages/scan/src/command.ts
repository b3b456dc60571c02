import { existsSync, statSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { type CommandContext, usageError } from '@imagewright/core';
import { BACKENDS } from './options';
import { ecrScanFor } from './ecr-command';
import { type Backend, type FindingSeverity, parseSeverity, type ScanResult, severityRank } from './finding';
import { osvScanImage, osvScanSbom } from './osv';
import { readScanFile } from './read';
import { runTrivy, trivyFindings } from './trivy';

/**
 * What image-scan and image-cve-diff share: the backend options, their defaults (flag, then the
 * deployment's deployment.yaml `scan:`, then the registry kind), and a scan of one input.
 * Loaded by bins only inside run(): it pulls in nothing heavy at import (its sibling modules
 * require their heavy dependencies lazily, so they are imported statically: vitest runs these
 * sources, where require('./x') of a .ts sibling does not resolve).
 */

export const DEFAULT_OSV_API = 'https://api.osv.dev';

/** `90`, `90s`, `15m`, `1h` → milliseconds. */
export function parseDuration(input: string, what: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(input.trim());
  if (!match || Number(match[1]) <= 0) throw usageError(`${what} ${JSON.stringify(input)}: allowed a duration such as 90s, 15m or 1h`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[(match[2] ?? 's') as 'ms' | 's' | 'm' | 'h'];
  return Number(match[1]) * unit;
}

export interface ScanSettings {
  backend: Backend;
  /** osv: where the advisories come from. */
  advisories: string;
  trivy: import('./trivy').TrivyRunOptions;
  timeoutMs: number;
}

/** Whether the user chose a configuration: --setup-env, IMAGEWRIGHT_SETUP_ENV or DEPLOYMENT_NAME. */
function namesDeployment(ctx: CommandContext): boolean {
  return Boolean(ctx.values['setup-env'] || ctx.env.IMAGEWRIGHT_SETUP_ENV || ctx.env.DEPLOYMENT_NAME);
}

/** The deployment's scan spec, when a config is loadable (commands given only files need none). */
function deploymentScan(ctx: CommandContext): { spec?: import('@imagewright/core').ScanSpec; dir?: string; ecr: boolean } {
  try {
    const loaded = ctx.loaded;
    const ecr = Boolean(loaded.config.ECR_ACCOUNT_ID && !loaded.config.REGISTRY);
    return { spec: loaded.deployment.spec.scan, dir: loaded.deployment.dir, ecr };
  } catch (error) {
    // A named deployment (or setup-env) must load: a typo in its scan: must not silently fall
    // back to defaults. Otherwise no config just means no deployment defaults.
    if (namesDeployment(ctx)) throw error;
    return { ecr: false };
  }
}

/** A deployment-relative path (deployment.yaml's) made absolute; URLs are kept. */
function fromDeployment(value: string, dir: string | undefined): string {
  if (/^https?:\/\//.test(value) || isAbsolute(value) || !dir) return value;
  return join(dir, value);
}

export function scanSettings(ctx: CommandContext): ScanSettings & { failOnSpec?: string; ignore?: string } {
  const { values, env } = ctx;
  const dep = deploymentScan(ctx);
  const backend = ((values.backend as string | undefined) ?? dep.spec?.backend ?? (dep.ecr ? 'ecr' : 'osv')) as Backend;
  if (!BACKENDS.includes(backend)) throw usageError(`--backend ${JSON.stringify(backend)}: allowed ${BACKENDS.join(', ')}`);
  const advisories = (values.advisories as string | undefined) ?? (dep.spec?.advisories ? fromDeployment(dep.spec.advisories, dep.dir) : env.IMAGEWRIGHT_OSV_URL || DEFAULT_OSV_API);
  const timeout = values.timeout as string | undefined;
  for (const [option, only] of [['advisories', 'osv'], ['db-repository', 'trivy'], ['cache-dir', 'trivy'], ['offline', 'trivy'], ['ignore-unfixed', 'trivy']] as const) {
    if (values[option] !== undefined && backend !== only) throw usageError(`--${option} goes with --backend ${only} (the backend is ${backend})`);
  }
  return {
    backend,
    advisories,
    trivy: {
      ...(values['db-repository'] ? { dbRepository: values['db-repository'] as string } : {}),
      ...(values['cache-dir'] ? { cacheDir: values['cache-dir'] as string } : {}),
      ...(values.offline ? { offline: true } : {}),
      ...(values['ignore-unfixed'] ? { ignoreUnfixed: true } : {}),
      ...(timeout ? { timeout } : {}),
      env,
    },
    timeoutMs: timeout ? parseDuration(timeout, '--timeout') : 15 * 60_000,
    ...(dep.spec?.failOn ? { failOnSpec: dep.spec.failOn } : {}),
    ...(dep.spec?.ignore ? { ignore: fromDeployment(dep.spec.ignore, dep.dir) } : {}),
  };
}

/**
 * The fail level: --fail-on, else deployment.yaml's scan.fail-on, else the original's
 * FAIL_LEVELS (HIGH and CRITICAL) but never below IMAGE_VULNERABILITY_LEVEL, the level whose
 * findings a report keeps. undefined: no gate (`none`).
 */
export function failLevel(ctx: CommandContext, fromSpec: string | undefined): FindingSeverity | undefined {
  const flag = ctx.values['fail-on'] as string | undefined;
  if (flag !== undefined) return parseSeverity(flag, '--fail-on', { allowNone: true });
  if (fromSpec !== undefined) return parseSeverity(fromSpec, 'deployment.yaml scan.fail-on', { allowNone: true });
  let keep: FindingSeverity = 'LOW';
  try {
    keep = parseSeverity(ctx.loaded.config.IMAGE_VULNERABILITY_LEVEL, 'IMAGE_VULNERABILITY_LEVEL') ?? 'LOW';
  } catch (error) {
    if (namesDeployment(ctx)) throw error;
  }
  return severityRank(keep) > severityRank('HIGH') ? keep : 'HIGH';
}

/** What an input names: an existing file (a report or SBOM) or an image location. */
export function isFileInput(input: string): boolean {
  return input === '-' || (existsSync(input) && statSync(input).isFile());
}

export interface ScanInput {
  /** An image location, a report file or an SBOM file. */
  input: string;
  /** How errors name it: IMAGE, OLD, NEW. */
  what: string;
  onProgress?: (line: string) => void;
}

/**
 * One scan: a report file is read as it is (whatever the backend), an SBOM file is matched
 * against the OSV advisories, an image is scanned by the backend.
 */
export async function scanInput(settings: ScanSettings, target: ScanInput, ctx: CommandContext): Promise<ScanResult> {
  if (isFileInput(target.input)) {
    const file = readScanFile(target.input, target.what);
    if (file.kind === 'scan') return file.result;
    return osvScanSbom(file.data, target.input, settings.advisories);
  }
  switch (settings.backend) {
    case 'osv': {
      return osvScanImage(target.input, settings.advisories, { env: ctx.env, what: target.what });
    }
    case 'trivy': {
      const { parseLocation } = require('@imagewright/image') as typeof import('@imagewright/image');
      const location = parseLocation(target.input, target.what);
      const where =
        location.transport === 'engine' ? { ref: location.ref } :
        location.transport === 'docker-archive' || location.transport === 'oci-archive' ? { archive: location.path } :
        location.transport === 'registry' ? { ref: location.ref } : undefined;
      if (!where) throw usageError(`${target.what} ${target.input}: the trivy backend scans Engine images, docker://REF and archives; allowed those, or --backend osv`);
      return trivyFindings(await runTrivy(where, settings.trivy), target.input);
    }
    case 'ecr': {
      return ecrScanFor(ctx, target, settings.timeoutMs);
    }
  }
}
