import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { usageError } from './errors';

/**
 * The deployments/ tree:
 *   deployments/common/image/           Dockerfile, Dockerfile.trailer, common-scripts/
 *   deployments/<name>/image/           Dockerfile.custom, Dockerfile (generated), environments/<env>/
 *   deployments/<name>/deployment.yaml  optional: what the conventions can't say (the root image)
 */

export interface DebootstrapSource {
  kind: 'debootstrap';
  suite: string;
  variant: string;
  mirror: string;
  include: string[];
}
export interface PullSource {
  kind: 'pull';
}
export interface RootImageSpec {
  /** Local tag of the chain's root image (the common Dockerfile's `FROM $ROOT_IMAGE`). */
  image: string;
  source: DebootstrapSource | PullSource;
}
/** image-all's squash step (deployment.yaml `squash:`): absent means no squash. */
export interface SquashSpec {
  /** Keep the layers shared with this image: `common` (the deployment's COMMON_ID) or a reference. */
  onto?: string;
  /** Keep the bottom N layers instead. */
  keepBase?: number;
  /** Hard-link duplicates: everywhere (true), nowhere (false) or under these paths. */
  crosslink: boolean | string[];
}
/** image-scan's defaults for the deployment (deployment.yaml `scan:`); paths are relative to the deployment folder. */
export interface ScanSpec {
  backend?: 'ecr' | 'trivy' | 'osv';
  /** OSV advisories: an API base URL, or a directory of records / an all.zip. */
  advisories?: string;
  /** A severity word, or `none`. */
  failOn?: string;
  /** An ignore file. */
  ignore?: string;
}
export interface DeploymentSpec {
  root: RootImageSpec;
  squash?: SquashSpec;
  scan?: ScanSpec;
}

export const DEFAULT_ROOT: RootImageSpec = {
  image: 'imagewright/debian:bookworm-minbase',
  source: { kind: 'debootstrap', suite: 'bookworm', variant: 'minbase', mirror: 'http://deb.debian.org/debian', include: [] },
};

export interface CommonImage {
  dir: string;
  dockerfile: string;
  trailer: string;
  scriptsDir: string;
}

export interface Deployment {
  name: string;
  dir: string;
  imageDir: string;
  /** Generated from Dockerfile.custom + the common trailer (when Dockerfile.custom exists). */
  dockerfile: string;
  dockerfileCustom: string | undefined;
  environmentsDir: string;
  /** Environment folders under image/environments/ (frozen specs excluded). */
  environments: string[];
  spec: DeploymentSpec;
  specFile: string | undefined;
}

const NOT_ENVIRONMENTS = new Set(['frozen', 'env-frozen', 'env-chilly']);

const isDir = (path: string) => existsSync(path) && statSync(path).isDirectory();

function subdirs(dir: string): string[] {
  if (!isDir(dir)) return [];
  return readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort();
}

export class DeploymentTree {
  readonly deploymentsDir: string;
  constructor(readonly root: string) {
    this.deploymentsDir = join(root, 'deployments');
  }

  /** Deployments: folders of deployments/ with an image/ folder, common excluded. */
  names(): string[] {
    return subdirs(this.deploymentsDir).filter((n) => n !== 'common' && isDir(join(this.deploymentsDir, n, 'image')));
  }

  common(): CommonImage {
    const dir = join(this.deploymentsDir, 'common', 'image');
    if (!isDir(dir)) throw usageError(`${dir}: missing (allowed: a checkout with deployments/common/image/)`);
    return {
      dir,
      dockerfile: join(dir, 'Dockerfile'),
      trailer: join(dir, 'Dockerfile.trailer'),
      scriptsDir: join(dir, 'common-scripts'),
    };
  }

  deployment(name: string): Deployment {
    const known = this.names();
    if (!known.includes(name)) {
      throw usageError(`deployment ${JSON.stringify(name)} not found in ${this.deploymentsDir}: allowed ${known.join(', ') || '(none)'}`);
    }
    const dir = join(this.deploymentsDir, name);
    const imageDir = join(dir, 'image');
    const custom = join(imageDir, 'Dockerfile.custom');
    const environmentsDir = join(imageDir, 'environments');
    const specFile = join(dir, 'deployment.yaml');
    const hasSpec = existsSync(specFile);
    return {
      name,
      dir,
      imageDir,
      dockerfile: join(imageDir, 'Dockerfile'),
      dockerfileCustom: existsSync(custom) ? custom : undefined,
      environmentsDir,
      environments: subdirs(environmentsDir).filter((n) => !NOT_ENVIRONMENTS.has(n)),
      spec: hasSpec ? parseDeploymentSpec(readFileSync(specFile, 'utf8'), specFile) : { root: DEFAULT_ROOT },
      specFile: hasSpec ? specFile : undefined,
    };
  }
}

/** The checks deployment.yaml's parts share: each failure names the key and what is allowed. */
function specReader(file: string) {
  const bad = (path: string, allowed: string) => usageError(`${file}: ${path} is invalid: allowed ${allowed}`);
  const object = (value: unknown, path: string, keys: string[]): Record<string, unknown> => {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw bad(path, `a mapping with ${keys.join(', ')}`);
    for (const key of Object.keys(value)) if (!keys.includes(key)) throw bad(`${path}.${key}`, `only keys ${keys.join(', ')}`);
    return value as Record<string, unknown>;
  };
  const string = (value: unknown, path: string, fallback?: string): string => {
    if (value === undefined && fallback !== undefined) return fallback;
    if (typeof value !== 'string' || value === '') throw bad(path, 'a non-empty string');
    return value;
  };
  return { bad, object, string };
}
type SpecReader = ReturnType<typeof specReader>;

/** Parses deployment.yaml strictly: an unknown key is a config error naming it. */
export function parseDeploymentSpec(text: string, file = 'deployment.yaml'): DeploymentSpec {
  const YAML = require('yaml') as typeof import('yaml'); // loaded only when a deployment has a spec
  let doc: unknown;
  try {
    doc = YAML.parse(text) ?? {};
  } catch (error) {
    throw usageError(`${file}: not valid YAML (${(error as Error).message.split('\n')[0]})`);
  }
  const read = specReader(file);
  const top = read.object(doc, '(top)', ['root', 'squash', 'scan']);
  return {
    root: top.root === undefined ? DEFAULT_ROOT : parseRoot(top.root, read),
    ...(top.squash === undefined ? {} : { squash: parseSquash(top.squash, read) }),
    ...(top.scan === undefined ? {} : { scan: parseScan(top.scan, read) }),
  };
}

function parseScan(value: unknown, { bad, object, string }: SpecReader): ScanSpec {
  const s = object(value, 'scan', ['backend', 'advisories', 'fail-on', 'ignore']);
  const backend = s.backend === undefined ? undefined : string(s.backend, 'scan.backend');
  if (backend !== undefined && !['ecr', 'trivy', 'osv'].includes(backend)) throw bad('scan.backend', 'ecr, trivy or osv');
  const failOn = s['fail-on'] === undefined ? undefined : string(s['fail-on'], 'scan.fail-on');
  if (failOn !== undefined && !['critical', 'high', 'medium', 'low', 'informational', 'all', 'none'].includes(failOn.toLowerCase())) {
    throw bad('scan.fail-on', 'critical, high, medium, low, informational, all or none');
  }
  return {
    ...(backend ? { backend: backend as ScanSpec['backend'] } : {}),
    ...(s.advisories !== undefined ? { advisories: string(s.advisories, 'scan.advisories') } : {}),
    ...(failOn ? { failOn } : {}),
    ...(s.ignore !== undefined ? { ignore: string(s.ignore, 'scan.ignore') } : {}),
  };
}

function parseSquash(value: unknown, { bad, object, string }: SpecReader): SquashSpec {
  if (value === true) return { crosslink: true };
  const s = object(value, 'squash', ['onto', 'keep-base', 'crosslink']);
  if (s.onto !== undefined && s['keep-base'] !== undefined) throw bad('squash', 'either onto or keep-base, not both');
  const keep = s['keep-base'];
  if (keep !== undefined && !(Number.isInteger(keep) && (keep as number) >= 0)) throw bad('squash.keep-base', 'a whole number of layers');
  const crosslink = s.crosslink ?? true;
  if (typeof crosslink !== 'boolean' && !(Array.isArray(crosslink) && crosslink.length && crosslink.every((p) => typeof p === 'string' && p.startsWith('/')))) {
    throw bad('squash.crosslink', 'true, false or a list of absolute paths');
  }
  return {
    ...(s.onto !== undefined ? { onto: string(s.onto, 'squash.onto') } : {}),
    ...(keep !== undefined ? { keepBase: keep as number } : {}),
    crosslink: crosslink as boolean | string[],
  };
}

function parseRoot(value: unknown, { bad, object, string }: SpecReader): RootImageSpec {
  const root = object(value, 'root', ['image', 'debootstrap', 'pull']);
  const image = string(root.image, 'root.image');
  if (root.pull !== undefined && root.debootstrap !== undefined) throw bad('root', 'either debootstrap or pull, not both');
  if (root.pull !== undefined) {
    if (root.pull !== true) throw bad('root.pull', 'true');
    return { image, source: { kind: 'pull' } };
  }
  const d = object(root.debootstrap ?? {}, 'root.debootstrap', ['suite', 'variant', 'mirror', 'include']);
  const defaults = DEFAULT_ROOT.source as DebootstrapSource;
  const include = d.include ?? [];
  if (!Array.isArray(include) || include.some((p) => typeof p !== 'string' || !/^[a-z0-9][a-z0-9+.-]*$/.test(p))) {
    throw bad('root.debootstrap.include', 'a list of Debian package names');
  }
  const variant = string(d.variant, 'root.debootstrap.variant', defaults.variant);
  if (!['minbase', 'buildd', 'fakechroot'].includes(variant)) throw bad('root.debootstrap.variant', 'minbase, buildd or fakechroot');
  return {
    image,
    source: {
      kind: 'debootstrap',
      suite: string(d.suite, 'root.debootstrap.suite', defaults.suite),
      variant,
      mirror: string(d.mirror, 'root.debootstrap.mirror', defaults.mirror),
      include: include as string[],
    },
  };
}
