import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type Config, DERIVED_NAMES, deriveConfig, INPUT_NAMES, toExports } from './config';
import { ImagewrightError } from './errors';

const ROOT = '/srv/checkout';
const base = { DEPLOYMENT_NAME: 'roman' };
const derive = (extra: Record<string, string | undefined> = {}) => deriveConfig({ ...base, ...extra }, ROOT);

/** The error deriveConfig throws for `raw`; fails the test when it doesn't throw. */
function configError(raw: Record<string, string | undefined>): ImagewrightError {
  try {
    deriveConfig(raw, ROOT);
  } catch (error) {
    expect(error).toBeInstanceOf(ImagewrightError);
    return error as ImagewrightError;
  }
  throw new Error(`deriveConfig accepted ${JSON.stringify(raw)}`);
}

describe('deriveConfig: quarantine tags', () => {
  it('is on by default for ECR: unscanned-<tag>-<env> is pushed, <tag>-<env> approved', () => {
    const c = derive({ ECR_ACCOUNT_ID: '123456789012', AWS_REGION: 'eu-west-1', ENVIRONMENT: 'dev' });
    expect(c.IMAGE_QUARANTINE).toBe('1');
    expect(c.PUSH_TAG).toBe('unscanned-latest-dev');
    expect(c.APPROVED_TAG).toBe('latest-dev');
  });

  it('is off by default for other registries (and when REGISTRY wins over ECR): the tag as is', () => {
    for (const raw of [{ REGISTRY: 'localhost:5000' }, { REGISTRY: 'ghcr.io/o', ECR_ACCOUNT_ID: '123456789012', AWS_REGION: 'eu-west-1' }, {}]) {
      const c = derive({ ...raw, IMAGE_TAG: 'v2' });
      expect(c.IMAGE_QUARANTINE).toBe('0');
      expect([c.PUSH_TAG, c.APPROVED_TAG]).toEqual(['v2', 'v2']);
    }
  });

  it('follows IMAGE_QUARANTINE when set, and refuses a tag too long once prefixed', () => {
    expect(derive({ REGISTRY: 'localhost:5000', IMAGE_QUARANTINE: '1', ENVIRONMENT: 'test', IMAGE_TAG: 'v3' }).PUSH_TAG).toBe('unscanned-v3-test');
    expect(derive({ ECR_ACCOUNT_ID: '123456789012', AWS_REGION: 'eu-west-1', IMAGE_QUARANTINE: '0' }).PUSH_TAG).toBe('latest');
    const e = configError({ ...base, IMAGE_QUARANTINE: '1', IMAGE_TAG: 'x'.repeat(120) });
    expect(e.exitCode).toBe(2);
    expect(e.message).toContain('too long with quarantine');
    expect(configError({ ...base, IMAGE_QUARANTINE: 'yes' }).message).toContain('IMAGE_QUARANTINE');
  });
});

describe('deriveConfig: image IDs', () => {
  it('has no prefix when no registry is configured', () => {
    const c = derive();
    expect(c.REGISTRY_HOST).toBeUndefined();
    expect(c.IMAGE_ID).toBe('roman-user-image:latest');
    expect(c.COMMON_ID).toBe('roman-user-image:common-latest');
    expect(c.ADMIN_ARN).toBeUndefined();
  });

  it('treats an empty REGISTRY as unset', () => {
    expect(derive({ REGISTRY: '' }).IMAGE_ID).toBe('roman-user-image:latest');
  });

  it('prefixes REGISTRY', () => {
    const c = derive({ REGISTRY: 'localhost:5000', IMAGE_TAG: 'v1' });
    expect(c.REGISTRY_HOST).toBe('localhost:5000');
    expect(c.IMAGE_ID).toBe('localhost:5000/roman-user-image:v1');
    expect(c.COMMON_ID).toBe('localhost:5000/roman-user-image:common-latest');
  });

  it('drops a trailing slash of REGISTRY with a path', () => {
    const c = derive({ REGISTRY: 'ghcr.io/org/' });
    expect(c.REGISTRY).toBe('ghcr.io/org');
    expect(c.IMAGE_ID).toBe('ghcr.io/org/roman-user-image:latest');
  });

  it('PERSONAL_IMAGE=1 drops the prefix but keeps the registry host', () => {
    const c = derive({ REGISTRY: 'localhost:5000', PERSONAL_IMAGE: '1' });
    expect(c.IMAGE_ID).toBe('roman-user-image:latest');
    expect(c.COMMON_ID).toBe('roman-user-image:common-latest');
    expect(c.REGISTRY_HOST).toBe('localhost:5000');
  });

  it('builds the ECR host and admin ARN from account and region', () => {
    const c = derive({ ECR_ACCOUNT_ID: '123456789012', AWS_REGION: 'eu-west-1', IMAGE_TAG: 't1' });
    expect(c.REGISTRY_HOST).toBe('123456789012.dkr.ecr.eu-west-1.amazonaws.com');
    expect(c.IMAGE_ID).toBe('123456789012.dkr.ecr.eu-west-1.amazonaws.com/roman-user-image:t1');
    expect(c.COMMON_ID).toBe('123456789012.dkr.ecr.eu-west-1.amazonaws.com/roman-user-image:common-latest');
    expect(c.ADMIN_ARN).toBe('arn:aws:iam::123456789012:role/admin-role');
  });

  it('uses ADMIN_ROLENAME in the ARN', () => {
    expect(derive({ ECR_ACCOUNT_ID: '123456789012', AWS_REGION: 'eu-west-1', ADMIN_ROLENAME: 'ops' }).ADMIN_ARN).toBe(
      'arn:aws:iam::123456789012:role/ops',
    );
  });

  it('PERSONAL_IMAGE=1 drops the ECR prefix too', () => {
    expect(derive({ ECR_ACCOUNT_ID: '123456789012', AWS_REGION: 'eu-west-1', PERSONAL_IMAGE: '1' }).IMAGE_ID).toBe('roman-user-image:latest');
  });

  it('REGISTRY wins over ECR (and then ECR needs no region)', () => {
    const c = derive({ REGISTRY: 'localhost:5000', ECR_ACCOUNT_ID: '123456789012', AWS_REGION: 'eu-west-1' });
    expect(c.REGISTRY_HOST).toBe('localhost:5000');
    expect(c.IMAGE_ID).toBe('localhost:5000/roman-user-image:latest');
    expect(derive({ REGISTRY: 'localhost:5000', ECR_ACCOUNT_ID: '123456789012' }).IMAGE_ID).toBe('localhost:5000/roman-user-image:latest');
  });
});

describe('deriveConfig: aliases', () => {
  it('accepts ACCOUNT_ID alone', () => {
    const c = derive({ ACCOUNT_ID: '210987654321', AWS_REGION: 'us-east-1' });
    expect(c.ECR_ACCOUNT_ID).toBe('210987654321');
    expect(c.IMAGE_ID).toBe('210987654321.dkr.ecr.us-east-1.amazonaws.com/roman-user-image:latest');
  });

  it('accepts ACCOUNT_ID equal to ECR_ACCOUNT_ID', () => {
    expect(derive({ ACCOUNT_ID: '123456789012', ECR_ACCOUNT_ID: '123456789012', AWS_REGION: 'us-east-1' }).ECR_ACCOUNT_ID).toBe('123456789012');
  });

  it('refuses ACCOUNT_ID different from ECR_ACCOUNT_ID, naming both', () => {
    const e = configError({ ...base, ECR_ACCOUNT_ID: '111111111111', ACCOUNT_ID: '222222222222', AWS_REGION: 'us-east-1' });
    expect(e.exitCode).toBe(2);
    expect(e.message).toContain('ECR_ACCOUNT_ID=111111111111');
    expect(e.message).toMatch(/(^|[^_])ACCOUNT_ID=222222222222/);
  });

  it('accepts AWS_DEFAULT_REGION for AWS_REGION', () => {
    const c = derive({ ECR_ACCOUNT_ID: '123456789012', AWS_DEFAULT_REGION: 'ap-southeast-2' });
    expect(c.AWS_REGION).toBe('ap-southeast-2');
    expect(c.REGISTRY_HOST).toBe('123456789012.dkr.ecr.ap-southeast-2.amazonaws.com');
  });

  it('names the alias that was set when its value is invalid', () => {
    const account = configError({ ...base, ACCOUNT_ID: '12345', AWS_REGION: 'us-east-1' });
    expect(account.exitCode).toBe(2);
    expect(account.message).toMatch(/^ACCOUNT_ID="12345" is invalid: allowed a 12-digit/);
    const region = configError({ ...base, ECR_ACCOUNT_ID: '123456789012', AWS_DEFAULT_REGION: 'nowhere' });
    expect(region.message).toMatch(/^AWS_DEFAULT_REGION="nowhere" is invalid/);
  });

  it('refuses ECR without a region, naming AWS_REGION', () => {
    const e = configError({ ...base, ECR_ACCOUNT_ID: '123456789012' });
    expect(e.exitCode).toBe(2);
    expect(e.message).toContain('AWS_REGION');
  });
});

describe('deriveConfig: defaults and folders', () => {
  it('fills defaults', () => {
    const c = derive();
    expect(c.DEPLOYMENT_NAME).toBe('roman');
    expect(c.ENVIRONMENT).toBe('sandbox');
    expect(c.IMAGE_TAG).toBe('latest');
    expect(c.COMMON_TAG).toBe('common-latest');
    expect(c.USE_FROZEN).toBe('1');
    expect(c.PERSONAL_IMAGE).toBe('0');
    expect(c.IMAGE_REPO).toBe('roman-user-image');
    expect(c.COMMON_REPO).toBe('roman-user-image');
    expect(c.ADMIN_ROLENAME).toBe('admin-role');
    expect(c.IMAGEWRIGHT_ROOT).toBe(ROOT);
  });

  it('keeps COMMON_REPO equal to a custom IMAGE_REPO', () => {
    const c = derive({ IMAGE_REPO: 'team/notebooks' });
    expect(c.COMMON_REPO).toBe('team/notebooks');
    expect(c.IMAGE_ID).toBe('team/notebooks:latest');
  });

  it('places IMAGE_DIR and COMMON_DIR under the root', () => {
    const c = deriveConfig({ DEPLOYMENT_NAME: 'tike' }, '/x/y');
    expect(c.IMAGE_DIR).toBe(join('/x/y', 'deployments', 'tike', 'image'));
    expect(c.COMMON_DIR).toBe(join('/x/y', 'deployments', 'common', 'image'));
  });
});

describe('deriveConfig: invalid inputs', () => {
  const cases: [string, Record<string, string | undefined>, string, RegExp][] = [
    ['ENVIRONMENT', { ENVIRONMENT: 'staging' }, 'ENVIRONMENT', /sandbox, dev, test, prod/],
    ['USE_FROZEN', { USE_FROZEN: '3' }, 'USE_FROZEN', /0, 1, 2/],
    ['IMAGE_TAG with a space', { IMAGE_TAG: 'my tag' }, 'IMAGE_TAG', /docker tag/],
    ['short ECR_ACCOUNT_ID', { ECR_ACCOUNT_ID: '12345678', AWS_REGION: 'us-east-1' }, 'ECR_ACCOUNT_ID', /12-digit/],
    ['REGISTRY with a scheme', { REGISTRY: 'https://ghcr.io/org' }, 'REGISTRY', /host\[:port\]/],
    ['PERSONAL_IMAGE', { PERSONAL_IMAGE: 'yes' }, 'PERSONAL_IMAGE', /0, 1/],
    ['AWS_REGION', { ECR_ACCOUNT_ID: '123456789012', AWS_REGION: 'Europe' }, 'AWS_REGION', /us-east-1/],
  ];
  for (const [title, extra, name, allowed] of cases) {
    it(`refuses ${title}, naming it and what is allowed`, () => {
      const e = configError({ ...base, ...extra });
      expect(e.exitCode).toBe(2);
      expect(e.message).toContain(name);
      expect(e.message).toContain(JSON.stringify(extra[name])); // the offending value
      expect(e.message).toMatch(allowed);
    });
  }

  it('refuses a missing DEPLOYMENT_NAME', () => {
    for (const raw of [{}, { DEPLOYMENT_NAME: '' }]) {
      const e = configError(raw);
      expect(e.exitCode).toBe(2);
      expect(e.message).toContain('DEPLOYMENT_NAME');
      expect(e.message).toContain('deployments/');
    }
  });

  it('refuses a DEPLOYMENT_NAME that is not a folder name', () => {
    const e = configError({ DEPLOYMENT_NAME: '../etc' });
    expect(e.exitCode).toBe(2);
    expect(e.message).toContain('DEPLOYMENT_NAME');
  });
});

describe('toExports', () => {
  const NAMES = [...INPUT_NAMES, ...DERIVED_NAMES];

  /** Evaluates the exports in a real bash and reads every variable back, NUL-separated. */
  function throughBash(config: Config): Record<string, string> {
    const out = execFileSync('bash', ['-c', 'eval "$1"; shift; for k; do printf "%s\\0" "${!k}"; done', '_', toExports(config), ...NAMES], {
      encoding: 'utf8',
      env: { PATH: process.env.PATH },
      // stdin not a socket: Debian's bash would otherwise source ~/.bashrc (SSH_SOURCE_BASHRC).
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const values = out.split('\0').slice(0, -1);
    expect(values).toHaveLength(NAMES.length);
    return Object.fromEntries(NAMES.map((n, i) => [n, values[i]]));
  }

  it('round-trips IMAGE_ID through bash', () => {
    const config = derive({ REGISTRY: 'localhost:5000', IMAGE_TAG: 'v2' });
    const out = execFileSync('bash', ['-c', 'eval "$1"; printf %s "$IMAGE_ID"', '_', toExports(config)], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    expect(out).toBe('localhost:5000/roman-user-image:v2');
  });

  it('round-trips every value, including single quotes, $ and newlines', () => {
    const config = derive({
      IMAGE_RUN_PARS: "-e A='x y'",
      IMAGE_UBUNTU_NAME: 'it\'s $HOME `id` "q"\nline2',
      ECR_ACCOUNT_ID: '123456789012',
      AWS_REGION: 'eu-west-1',
    });
    const back = throughBash(config);
    expect(back.IMAGE_RUN_PARS).toBe("-e A='x y'");
    for (const name of NAMES) expect(back[name], name).toBe(config[name] ?? '');
  });

  it('exports undefined values as empty', () => {
    const back = throughBash(derive());
    expect(back.REGISTRY_HOST).toBe('');
    expect(back.ADMIN_ARN).toBe('');
  });
});

describe('deriveConfig: secrets', () => {
  it("defaults SECRETS_REPO to the deployment's CodeCommit repository in AWS_REGION, else leaves it unset", () => {
    expect(derive({ AWS_REGION: 'eu-west-1' }).SECRETS_REPO).toBe('https://git-codecommit.eu-west-1.amazonaws.com/v1/repos/roman-secrets');
    expect(derive({ AWS_DEFAULT_REGION: 'us-east-2' }).SECRETS_REPO).toBe('https://git-codecommit.us-east-2.amazonaws.com/v1/repos/roman-secrets');
    expect(derive({}).SECRETS_REPO).toBeUndefined();
  });

  it('takes any git URL or absolute path, and refuses anything else naming the input', () => {
    for (const url of ['https://git.example.org/ops/secrets.git', 'ssh://git@host/x', 'git@github.com:org/secrets.git', 'file:///srv/git/s.git', '/srv/git/s.git']) {
      expect(derive({ SECRETS_REPO: url }).SECRETS_REPO).toBe(url);
    }
    for (const bad of ['secrets', 'relative/path', 'https://has space']) {
      expect(() => derive({ SECRETS_REPO: bad })).toThrow(/SECRETS_REPO=.* is invalid: allowed a git URL/);
    }
  });

  it('puts the clone under the deployment and the file under the environment', () => {
    const c = derive({ ENVIRONMENT: 'prod' });
    expect(c.SECRETS_DIR).toMatch(/\/deployments\/roman\/secrets$/);
    expect(c.SECRETS_FILE).toBe(`${c.SECRETS_DIR}/prod.yaml`);
  });
});
