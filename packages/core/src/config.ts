import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { usageError } from './errors';

/**
 * setup-env inputs → derived values, in one place for every command (the original split this
 * between setup-env.template and derived-env, and only noticed unset inputs part-way via `set -u`).
 */

export const ENVIRONMENTS = ['sandbox', 'dev', 'test', 'prod'] as const;
export const SEVERITIES = ['low', 'medium', 'high', 'critical'] as const;
export type Environment = (typeof ENVIRONMENTS)[number];
export type Severity = (typeof SEVERITIES)[number];

interface InputSpec {
  /** Shown in image-env and the README table. */
  help: string;
  default?: (raw: RawEnv) => string | undefined;
  /** Older names accepted for the same input. */
  aliases?: string[];
  /** A value is allowed when it matches; `allowed` says what is allowed in the error. */
  pattern?: RegExp;
  allowed?: string;
}

type RawEnv = Record<string, string | undefined>;

const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const TAG_ALLOWED = 'a docker tag: letters, digits, _ . - (max 128, not starting with . or -)';
const REPO = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/;

const oneOf = (values: readonly string[]) => ({
  pattern: new RegExp(`^(?:${values.join('|')})$`),
  allowed: `one of ${values.join(', ')}`,
});

export const INPUTS = {
  DEPLOYMENT_NAME: {
    help: 'deployment under deployments/<name>/',
    pattern: /^[a-z0-9][a-z0-9_.-]*$/,
    allowed: 'a deployment name: lowercase letters, digits, _ . -',
  },
  ENVIRONMENT: { help: 'lifecycle stage', default: () => 'sandbox', ...oneOf(ENVIRONMENTS) },
  IMAGE_TAG: { help: 'tag of the mission image', default: () => 'latest', pattern: TAG, allowed: TAG_ALLOWED },
  COMMON_TAG: { help: 'tag of the common image', default: () => 'common-latest', pattern: TAG, allowed: TAG_ALLOWED },
  USE_FROZEN: { help: '0 floating specs, 1 frozen, 2 chilled (~=)', default: () => '1', ...oneOf(['0', '1', '2']) },
  PERSONAL_IMAGE: { help: '1 drops the registry prefix from image IDs', default: () => '0', ...oneOf(['0', '1']) },
  ECR_ACCOUNT_ID: {
    help: 'AWS account of the ECR registry',
    aliases: ['ACCOUNT_ID'],
    pattern: /^\d{12}$/,
    allowed: 'a 12-digit AWS account id',
  },
  AWS_REGION: {
    help: 'AWS region of ECR (no default region is assumed)',
    aliases: ['AWS_DEFAULT_REGION'],
    pattern: /^[a-z]{2}(?:-[a-z]+)+-\d+$/,
    allowed: 'an AWS region such as us-east-1',
  },
  ADMIN_ROLENAME: {
    help: 'IAM role assumed for admin operations',
    default: () => 'admin-role',
    pattern: /^[\w+=,.@-]{1,64}$/,
    allowed: 'an IAM role name',
  },
  REGISTRY: {
    help: 'a non-ECR registry host[:port][/path] (wins over ECR)',
    pattern: /^[A-Za-z0-9.-]+(?::\d+)?(?:\/[a-z0-9._-]+)*\/?$/,
    allowed: 'a registry host[:port][/path], e.g. localhost:5000 or ghcr.io/org',
  },
  IMAGE_REPO: {
    help: 'repository of the mission and common images',
    default: (raw) => (raw.DEPLOYMENT_NAME ? `${raw.DEPLOYMENT_NAME}-user-image` : undefined),
    pattern: REPO,
    allowed: 'a repository name: lowercase letters, digits, separators . _ - and /',
  },
  CONDA_VER: { help: 'conda front end inside the image', default: () => 'conda', ...oneOf(['conda', 'mamba']) },
  IMAGE_RUN_PARS: { help: 'docker-run flags for image-exec and friends', default: () => '--rm -e JUPYTER_ENABLE_LAB=yes' },
  IMAGE_UBUNTU_NAME: { help: 'distribution release name used by scan reports', default: () => '' },
  IMAGE_VULNERABILITY_LEVEL: { help: 'minimum severity kept by scans', default: () => 'medium', ...oneOf(SEVERITIES) },
  IMAGE_QUARANTINE: {
    help: '1 pushes under unscanned-<tag>-<env> until a scan approves it (default 1 for ECR, else 0)',
    // As the originals: ECR pushes were quarantined; other registries (Canonical's) take the tag as is.
    default: (raw) => (raw.ECR_ACCOUNT_ID && !raw.REGISTRY ? '1' : '0'),
    ...oneOf(['0', '1']),
  },
  SECRETS_REPO: {
    help: "git URL of the deployment's secrets repository (default its CodeCommit repository when AWS_REGION is set)",
    // The originals' CodeCommit repository <DEPLOYMENT_NAME>-secrets, in the configured region.
    default: (raw) => {
      const region = raw.AWS_REGION || raw.AWS_DEFAULT_REGION;
      return region && raw.DEPLOYMENT_NAME ? `https://git-codecommit.${region}.amazonaws.com/v1/repos/${raw.DEPLOYMENT_NAME}-secrets` : undefined;
    },
    // What git clones: a URL with a scheme, scp-like user@host:path, or an absolute path.
    pattern: /^(?:[a-z][a-z0-9+.-]*:\/\/\S+|[\w.-]+@[\w.-]+:\S+|\/\S*)$/,
    allowed: 'a git URL (https://…, ssh://…, file://…, user@host:path) or an absolute path',
  },
} satisfies Record<string, InputSpec>;

export type InputName = keyof typeof INPUTS;
export const INPUT_NAMES = Object.keys(INPUTS) as InputName[];

export interface Inputs {
  DEPLOYMENT_NAME: string;
  ENVIRONMENT: Environment;
  IMAGE_TAG: string;
  COMMON_TAG: string;
  USE_FROZEN: '0' | '1' | '2';
  PERSONAL_IMAGE: '0' | '1';
  ECR_ACCOUNT_ID: string | undefined;
  AWS_REGION: string | undefined;
  ADMIN_ROLENAME: string;
  REGISTRY: string | undefined;
  IMAGE_REPO: string;
  CONDA_VER: 'conda' | 'mamba';
  IMAGE_RUN_PARS: string;
  IMAGE_UBUNTU_NAME: string;
  IMAGE_VULNERABILITY_LEVEL: Severity;
  IMAGE_QUARANTINE: '0' | '1';
  SECRETS_REPO: string | undefined;
}

export interface Derived {
  /** The checkout holding deployments/ (the original's JUPYTERHUB_DIR). */
  IMAGEWRIGHT_ROOT: string;
  /** Where IMAGE_ID would be pushed: REGISTRY, else the ECR host, else undefined. */
  REGISTRY_HOST: string | undefined;
  COMMON_REPO: string;
  IMAGE_ID: string;
  COMMON_ID: string;
  IMAGE_DIR: string;
  COMMON_DIR: string;
  ADMIN_ARN: string | undefined;
  /** The tag image-push pushes: APPROVED_TAG behind `unscanned-` when IMAGE_QUARANTINE=1, else IMAGE_TAG. */
  PUSH_TAG: string;
  /** The tag image-pull takes by default: <IMAGE_TAG>-<ENVIRONMENT> with quarantine (what a scan approves), else IMAGE_TAG. */
  APPROVED_TAG: string;
  /** deployments/<DEPLOYMENT_NAME>/secrets: the secrets repository's clone (git-ignored). */
  SECRETS_DIR: string;
  /** The environment's secrets: SECRETS_DIR/<ENVIRONMENT>.yaml. */
  SECRETS_FILE: string;
}

export type Config = Inputs & Derived;
export const DERIVED_NAMES: (keyof Derived)[] = [
  'IMAGEWRIGHT_ROOT', 'REGISTRY_HOST', 'COMMON_REPO', 'IMAGE_ID', 'COMMON_ID', 'IMAGE_DIR', 'COMMON_DIR', 'ADMIN_ARN', 'PUSH_TAG', 'APPROVED_TAG',
  'SECRETS_DIR', 'SECRETS_FILE',
];

/** Reads one input from the environment, its aliases, then its default; '' counts as unset. */
function readInput(name: InputName, raw: RawEnv): string | undefined {
  const spec: InputSpec = INPUTS[name];
  const set = [name, ...(spec.aliases ?? [])]
    .map((key) => [key, raw[key]] as const)
    .filter((entry): entry is readonly [string, string] => entry[1] !== undefined && entry[1] !== '');
  const distinct = new Set(set.map(([, v]) => v));
  if (distinct.size > 1) {
    throw usageError(`${set.map(([k, v]) => `${k}=${v}`).join(' and ')} disagree: set only ${name}`);
  }
  const value = set[0]?.[1] ?? spec.default?.(raw);
  if (value !== undefined && spec.pattern && !spec.pattern.test(value)) {
    // Name the variable actually set (an alias such as ACCOUNT_ID), not the canonical name.
    throw usageError(`${set[0]?.[0] ?? name}=${JSON.stringify(value)} is invalid: allowed ${spec.allowed}`);
  }
  return value;
}

/** Inputs → the full config. Pure: everything it needs is in `raw` and `root`. */
export function deriveConfig(raw: RawEnv, root: string): Config {
  if (!raw.DEPLOYMENT_NAME) {
    throw usageError('DEPLOYMENT_NAME is not set: name a folder under deployments/ (source setup-env, or --setup-env FILE)');
  }
  const inputs = Object.fromEntries(INPUT_NAMES.map((name) => [name, readInput(name, raw)])) as unknown as Inputs;
  if (inputs.REGISTRY) inputs.REGISTRY = inputs.REGISTRY.replace(/\/+$/, '');

  let registryHost = inputs.REGISTRY;
  if (!registryHost && inputs.ECR_ACCOUNT_ID) {
    if (!inputs.AWS_REGION) {
      throw usageError('AWS_REGION is not set: ECR_ACCOUNT_ID needs the region of its registry, e.g. us-east-1');
    }
    registryHost = `${inputs.ECR_ACCOUNT_ID}.dkr.ecr.${inputs.AWS_REGION}.amazonaws.com`;
  }
  const prefix = inputs.PERSONAL_IMAGE === '1' || !registryHost ? '' : `${registryHost}/`;
  const commonRepo = inputs.IMAGE_REPO; // common and mission images share one repository
  return {
    ...inputs,
    IMAGEWRIGHT_ROOT: root,
    REGISTRY_HOST: registryHost,
    COMMON_REPO: commonRepo,
    IMAGE_ID: `${prefix}${inputs.IMAGE_REPO}:${inputs.IMAGE_TAG}`,
    COMMON_ID: `${prefix}${commonRepo}:${inputs.COMMON_TAG}`,
    IMAGE_DIR: join(root, 'deployments', inputs.DEPLOYMENT_NAME, 'image'),
    COMMON_DIR: join(root, 'deployments', 'common', 'image'),
    ADMIN_ARN: inputs.ECR_ACCOUNT_ID ? `arn:aws:iam::${inputs.ECR_ACCOUNT_ID}:role/${inputs.ADMIN_ROLENAME}` : undefined,
    ...quarantineTags(inputs),
    SECRETS_DIR: join(root, 'deployments', inputs.DEPLOYMENT_NAME, 'secrets'),
    SECRETS_FILE: join(root, 'deployments', inputs.DEPLOYMENT_NAME, 'secrets', `${inputs.ENVIRONMENT}.yaml`),
  };
}

/**
 * The push and approved tags. With quarantine (the originals' ECR scheme) the image is pushed as
 * unscanned-<tag>-<env>; whatever approves it after the scan drops the prefix. A tag too long
 * for docker once prefixed is a config error, not a failed push later.
 */
function quarantineTags(inputs: Inputs): Pick<Derived, 'PUSH_TAG' | 'APPROVED_TAG'> {
  if (inputs.IMAGE_QUARANTINE === '0') return { PUSH_TAG: inputs.IMAGE_TAG, APPROVED_TAG: inputs.IMAGE_TAG };
  const approved = `${inputs.IMAGE_TAG}-${inputs.ENVIRONMENT}`;
  const push = `unscanned-${approved}`;
  if (!TAG.test(push)) throw usageError(`IMAGE_TAG=${JSON.stringify(inputs.IMAGE_TAG)} is too long with quarantine (${push}): allowed at most ${128 - push.length + inputs.IMAGE_TAG.length} characters`);
  return { PUSH_TAG: push, APPROVED_TAG: approved };
}

/**
 * The checkout: IMAGEWRIGHT_ROOT when set (setup-env exports it), else the nearest folder at or
 * above `cwd` that has deployments/.
 */
export function findRoot(raw: RawEnv, cwd: string): string {
  if (raw.IMAGEWRIGHT_ROOT) {
    const root = resolve(cwd, raw.IMAGEWRIGHT_ROOT);
    if (!existsSync(join(root, 'deployments'))) {
      throw usageError(`IMAGEWRIGHT_ROOT=${raw.IMAGEWRIGHT_ROOT} has no deployments/ folder: allowed the checkout that holds deployments/`);
    }
    return root;
  }
  for (let dir = resolve(cwd); ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'deployments'))) return dir;
    if (dirname(dir) === dir) break;
  }
  throw usageError(`IMAGEWRIGHT_ROOT is not set and no deployments/ folder is at or above ${cwd}: source setup-env from the checkout`);
}

/** Shell lines that set every value (`eval "$(image-env --export)"`). */
export function toExports(config: Config): string {
  const quote = (v: string) => `'${v.replace(/'/g, `'\\''`)}'`;
  return [...INPUT_NAMES, ...DERIVED_NAMES]
    .map((key) => `export ${key}=${quote(config[key] ?? '')}`)
    .join('\n');
}
