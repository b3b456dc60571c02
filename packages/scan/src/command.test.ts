import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type CommandContext, type ImagewrightError, loadConfig, type Loaded } from '@imagewright/core';
import { FIXTURES, tempDeploymentRoot } from '@imagewright/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_OSV_API, failLevel, isFileInput, parseDuration, scanInput, scanSettings } from './command';

// What image-scan and image-cve-diff share, on a context like the one the CLI builds (config
// loaded lazily from a throwaway deployment root): defaults from flags, deployment.yaml's scan:
// and the registry kind; the fail level; which inputs are files.

const TRIVY = join(FIXTURES, 'trivy');

let root: string;
let work: string;
beforeAll(() => {
  root = tempDeploymentRoot('plain', {
    'deployments/withscan/deployment.yaml': 'scan:\n  backend: trivy\n  advisories: adv/all.zip\n  fail-on: critical\n  ignore: scan.ignore\n',
    'deployments/withscan/image/.keep': '',
    'deployments/osvscan/deployment.yaml': 'scan:\n  advisories: https://osv.example.test\n',
    'deployments/osvscan/image/.keep': '',
    'deployments/typo/deployment.yaml': 'scan:\n  backend: grype\n',
    'deployments/typo/image/.keep': '',
  });
  work = mkdtempSync(join(tmpdir(), 'iw-scan-command-'));
});
afterAll(() => {
  rmSync(root, { recursive: true, force: true });
  rmSync(work, { recursive: true, force: true });
});

/** A context as core's command() makes it: `loaded` read on first use. */
function context(values: CommandContext['values'], env: NodeJS.ProcessEnv = {}): CommandContext {
  let loaded: Loaded | undefined;
  return {
    values,
    positionals: [],
    runArgs: [],
    out: undefined as never,
    env,
    get loaded() {
      return (loaded ??= loadConfig({ setupEnv: values['setup-env'] as string | undefined, env, cwd: work }));
    },
    image: '',
  };
}
const dep = (name: string, extra: NodeJS.ProcessEnv = {}) => ({ IMAGEWRIGHT_ROOT: root, DEPLOYMENT_NAME: name, ...extra });
const thrown = (fn: () => unknown): ImagewrightError => {
  try {
    fn();
  } catch (error) {
    return error as ImagewrightError;
  }
  throw new Error('did not throw');
};

describe('parseDuration', () => {
  it('seconds by default; ms, s, m, h; fractions', () => {
    expect(parseDuration('90', '--timeout')).toBe(90_000);
    expect(parseDuration('90s', '--timeout')).toBe(90_000);
    expect(parseDuration('15m', '--timeout')).toBe(900_000);
    expect(parseDuration('1h', '--timeout')).toBe(3_600_000);
    expect(parseDuration('250ms', '--timeout')).toBe(250);
    expect(parseDuration('1.5s', '--timeout')).toBe(1500);
  });
  it('anything else, and zero, are usage errors naming the option', () => {
    for (const bad of ['0', '0s', '-1s', 'soon', '5d', '']) {
      expect(thrown(() => parseDuration(bad, '--timeout'))).toMatchObject({ exitCode: 2, message: `--timeout ${JSON.stringify(bad)}: allowed a duration such as 90s, 15m or 1h` });
    }
  });
});

describe('scanSettings', () => {
  it('no config at all (no deployment found): osv against the public API, or IMAGEWRIGHT_OSV_URL; 15 minutes for ECR', () => {
    const s = scanSettings(context({}, { IMAGEWRIGHT_ROOT: join(work, 'nowhere') }));
    expect(s).toMatchObject({ backend: 'osv', advisories: DEFAULT_OSV_API, timeoutMs: 900_000 });
    expect(s.failOnSpec).toBeUndefined();
    expect(scanSettings(context({}, { IMAGEWRIGHT_OSV_URL: 'http://127.0.0.1:9/' })).advisories).toBe('http://127.0.0.1:9/');
  });

  it('a deployment without scan: osv; with an ECR registry: ecr; REGISTRY wins over ECR', () => {
    expect(scanSettings(context({}, dep('plain'))).backend).toBe('osv');
    expect(scanSettings(context({}, dep('plain', { ECR_ACCOUNT_ID: '123456789012', AWS_REGION: 'us-east-1' }))).backend).toBe('ecr');
    expect(scanSettings(context({}, dep('plain', { ECR_ACCOUNT_ID: '123456789012', AWS_REGION: 'us-east-1', REGISTRY: 'localhost:5000' }))).backend).toBe('osv');
  });

  it("deployment.yaml's scan: backend, fail-on, and paths relative to the deployment folder; URLs kept", () => {
    const s = scanSettings(context({}, dep('withscan', { ECR_ACCOUNT_ID: '123456789012', AWS_REGION: 'us-east-1' })));
    expect(s).toMatchObject({ backend: 'trivy', advisories: join(root, 'deployments', 'withscan', 'adv', 'all.zip'), failOnSpec: 'critical', ignore: join(root, 'deployments', 'withscan', 'scan.ignore') });
    expect(scanSettings(context({}, dep('osvscan')))).toMatchObject({ backend: 'osv', advisories: 'https://osv.example.test' });
  });

  it('flags win over deployment.yaml', () => {
    const s = scanSettings(context({ backend: 'osv', advisories: '/x/advisories' }, dep('withscan')));
    expect(s).toMatchObject({ backend: 'osv', advisories: '/x/advisories' });
  });

  it("trivy's options passed through; --timeout both trivy's and the ECR wait", () => {
    const env = dep('plain');
    const s = scanSettings(context({ backend: 'trivy', 'db-repository': 'localhost:5000/trivy-db', 'cache-dir': '/c', offline: true, 'ignore-unfixed': true, timeout: '2m' }, env));
    expect(s.trivy).toEqual({ dbRepository: 'localhost:5000/trivy-db', cacheDir: '/c', offline: true, ignoreUnfixed: true, timeout: '2m', env });
    expect(s.timeoutMs).toBe(120_000);
  });

  it('bad input: an unknown backend, an option of another backend, a bad --timeout', () => {
    expect(thrown(() => scanSettings(context({ backend: 'grype' }, dep('plain'))))).toMatchObject({ exitCode: 2, message: '--backend "grype": allowed ecr, trivy, osv' });
    expect(thrown(() => scanSettings(context({ backend: 'trivy', advisories: '/x' }, dep('plain'))))).toMatchObject({ exitCode: 2, message: '--advisories goes with --backend osv (the backend is trivy)' });
    // deployment.yaml's backend counts: --advisories with its trivy is refused too.
    expect(thrown(() => scanSettings(context({ advisories: '/x' }, dep('withscan'))))).toMatchObject({ exitCode: 2, message: '--advisories goes with --backend osv (the backend is trivy)' });
    expect(thrown(() => scanSettings(context({ offline: true }, dep('plain'))))).toMatchObject({ exitCode: 2, message: '--offline goes with --backend trivy (the backend is osv)' });
    expect(thrown(() => scanSettings(context({ timeout: 'later' }, dep('plain'))))).toMatchObject({ exitCode: 2, message: '--timeout "later": allowed a duration such as 90s, 15m or 1h' });
  });

  it('an explicit setup-env that cannot be read is an error, not "no deployment defaults"', () => {
    const missing = join(work, 'setup-env.missing');
    expect(thrown(() => scanSettings(context({ 'setup-env': missing }, {}))).exitCode).toBe(2);
    expect(thrown(() => scanSettings(context({}, { IMAGEWRIGHT_SETUP_ENV: missing }))).exitCode).toBe(2);
  });

  it('a named deployment whose config does not load is an error too: a typo in scan: never falls back to defaults silently', () => {
    for (const ctx of [context({}, dep('typo')), context({ 'fail-on': 'high' }, dep('typo')), context({}, dep('nosuchdeployment'))]) {
      expect(thrown(() => scanSettings(ctx)).exitCode).toBe(2);
    }
    expect(thrown(() => scanSettings(context({}, dep('typo')))).message).toMatch(/scan\.backend/);
    expect(thrown(() => failLevel(context({}, dep('typo')), undefined)).message).toMatch(/scan\.backend/);
  });

  it('a setup-env file naming the deployment gives its defaults', () => {
    const file = join(work, 'setup-env');
    writeFileSync(file, `export IMAGEWRIGHT_ROOT=${root}\nexport DEPLOYMENT_NAME=withscan\n`);
    expect(scanSettings(context({ 'setup-env': file }, {})).backend).toBe('trivy');
  });
});

describe('failLevel', () => {
  it('--fail-on first (none: no gate), then deployment.yaml, then HIGH, or IMAGE_VULNERABILITY_LEVEL when that is higher', () => {
    expect(failLevel(context({ 'fail-on': 'medium' }, dep('plain')), 'critical')).toBe('MEDIUM');
    expect(failLevel(context({ 'fail-on': 'None' }, dep('plain')), 'critical')).toBeUndefined();
    expect(failLevel(context({ 'fail-on': 'all' }, dep('plain')), undefined)).toBe('INFORMATIONAL');
    expect(failLevel(context({}, dep('plain')), 'critical')).toBe('CRITICAL');
    expect(failLevel(context({}, dep('plain')), 'none')).toBeUndefined();
    expect(failLevel(context({}, dep('plain')), undefined)).toBe('HIGH');
    expect(failLevel(context({}, dep('plain', { IMAGE_VULNERABILITY_LEVEL: 'low' })), undefined)).toBe('HIGH');
    expect(failLevel(context({}, dep('plain', { IMAGE_VULNERABILITY_LEVEL: 'critical' })), undefined)).toBe('CRITICAL');
    // No config at all: HIGH.
    expect(failLevel(context({}, { IMAGEWRIGHT_ROOT: join(work, 'nowhere') }), undefined)).toBe('HIGH');
  });

  it('bad words are usage errors naming where they came from', () => {
    expect(thrown(() => failLevel(context({ 'fail-on': 'CRITCAL' }, dep('plain')), undefined))).toMatchObject({
      exitCode: 2,
      message: '--fail-on "CRITCAL": allowed critical, high, medium, low, informational, all, none',
    });
    expect(thrown(() => failLevel(context({}, dep('plain')), 'unknown')).message).toMatch(/^deployment.yaml scan.fail-on "unknown": allowed/);
  });
});

describe('isFileInput and scanInput', () => {
  it('an existing file or - is a file; a directory, a missing path or an image reference is not', () => {
    const f = join(work, 'report.json');
    writeFileSync(f, '{}');
    expect([isFileInput(f), isFileInput('-'), isFileInput(work), isFileInput(join(work, 'missing.json')), isFileInput('debian:12')]).toEqual([true, true, false, false, false]);
  });

  it('a report file is read as it is, whatever the backend: the Trivy fixture with the ecr backend configured', async () => {
    const ctx = context({}, dep('plain', { ECR_ACCOUNT_ID: '123456789012', AWS_REGION: 'us-east-1' }));
    const settings = scanSettings(ctx);
    expect(settings.backend).toBe('ecr');
    const result = await scanInput(settings, { input: join(TRIVY, 'debian-buster.json'), what: 'OLD' }, ctx);
    expect(result).toMatchObject({ backend: 'trivy', distro: 'debian 10.1' });
    expect(result.findings.map((f) => `${f.id} ${f.package.name} ${f.severity}`)).toEqual(['CVE-2019-18276 bash LOW', 'CVE-2019-18224 libidn2-0 CRITICAL']);
  });

  it('an SBOM file is matched against the OSV advisories', async () => {
    const adv = join(work, 'adv');
    mkdirSync(adv, { recursive: true });
    writeFileSync(
      join(adv, 'TEST-1.json'),
      JSON.stringify({ id: 'TEST-1', modified: '2024-01-01T00:00:00Z', database_specific: { severity: 'HIGH' }, affected: [{ package: { ecosystem: 'PyPI', name: 'tinypkg' }, ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: '0.2' }] }] }] }),
    );
    const sbom = join(work, 'sbom.json');
    const components = [
      { type: 'library', name: 'tinypkg', version: '0.1.0', purl: 'pkg:pypi/tinypkg@0.1.0', 'bom-ref': 'a' },
      { type: 'library', name: 'other', version: '0.1.0', purl: 'pkg:pypi/other@0.1.0', 'bom-ref': 'b' },
    ];
    writeFileSync(sbom, JSON.stringify({ bomFormat: 'CycloneDX', specVersion: '1.5', metadata: { component: { type: 'container', name: 'sbom-image' } }, components }));
    const ctx = context({ advisories: adv }, dep('plain'));
    const result = await scanInput(scanSettings(ctx), { input: sbom, what: 'NEW' }, ctx);
    expect(result).toMatchObject({ backend: 'osv', image: 'sbom-image' });
    expect(result.findings.map((f) => [f.id, f.package.name, f.package.version, f.fixedVersion, f.severity])).toEqual([['TEST-1', 'tinypkg', '0.1.0', '0.2', 'HIGH']]);
    expect(readFileSync(sbom, 'utf8')).toContain('tinypkg');
  });
});
