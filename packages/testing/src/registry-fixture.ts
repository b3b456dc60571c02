import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runBin, tempDeploymentRoot, type BinResult } from './bin';
import { startEcr, type Ecr, type EcrOptions } from './ecr';
import { startRegistry, type Registry, type RegistryOptions } from './registry';
import { dockerConfigWith } from './registry-images';

/** Something in front of the registry (a paging or faulty proxy) that commands talk to instead. */
export interface RegistryFront {
  host: string;
  stop(): Promise<void>;
}

/**
 * What the registry command tests share: a real registry (for ECR: the one behind the stand-in),
 * a temp deployment root, a DOCKER_CONFIG skopeo logs in with, the command environment and the
 * secrets no command may print.
 */
export interface RegistryFixture {
  /** The real registry (docker-registry, htpasswd). */
  registry: Registry;
  /** The throwaway checkout from tempDeploymentRoot(deployment). */
  root: string;
  deployment: string;
  /**
   * A DOCKER_CONFIG whose config.json holds the registry's credentials (for the front's host when
   * there is one): skopeo's --authfile, the oracle.
   */
  loggedIn: string;
  /**
   * The config inputs of a command run: IMAGEWRIGHT_ROOT, DEPLOYMENT_NAME and the registry's
   * (REGISTRY and DOCKER_CONFIG; for ECR, ECR_ACCOUNT_ID, the stand-in's AWS_* and an empty
   * DOCKER_CONFIG, so that commands log in themselves).
   */
  env: NodeJS.ProcessEnv;
  /** What must show in no output, by name: the password, its basic-auth base64 (for ECR the token), the AWS secret key. */
  secrets: Record<string, string>;
  /** Stops what it started and removes its temp folders; safe to call twice. */
  stop(): Promise<void>;
}

export interface PlainRegistryFixture<F extends RegistryFront | undefined = undefined> extends RegistryFixture {
  /** REGISTRY as commands see it: the front's host, else the registry's. */
  host: string;
  front: F;
}

export interface EcrFixture extends RegistryFixture {
  ecr: Ecr;
  /** The registry host ECR names: <account>.dkr.ecr.<region>.amazonaws.com. */
  ecrHost: string;
}

export interface RegistryFixtureOptions {
  /** DEPLOYMENT_NAME, and the deployment tempDeploymentRoot makes; testdep when omitted. */
  deployment?: string;
  registry?: RegistryOptions;
}

const basicAuth = (registry: Registry) => Buffer.from(`${registry.username}:${registry.password}`).toString('base64');

async function stopAll(stops: (() => Promise<void> | void)[]): Promise<void> {
  for (const stop of stops) await stop();
}

/**
 * A real registry (startRegistry), optionally behind `front` (started on it), a DOCKER_CONFIG
 * logged in to the host commands use, and a temp deployment root. Whatever was started is stopped
 * again if a later step fails.
 */
export async function startRegistryFixture<F extends RegistryFront | undefined = undefined>(
  options: RegistryFixtureOptions & { front?: (registry: Registry) => Promise<F & RegistryFront> } = {},
): Promise<PlainRegistryFixture<F>> {
  const deployment = options.deployment ?? 'testdep';
  const stops: (() => Promise<void> | void)[] = [];
  try {
    const registry = await startRegistry(options.registry);
    stops.unshift(() => registry.stop());
    const front = (options.front ? await options.front(registry) : undefined) as F;
    if (front) stops.unshift(() => front.stop());
    const host = front?.host ?? registry.host;
    const loggedIn = dockerConfigWith({ [host]: registry });
    const root = tempDeploymentRoot(deployment);
    stops.push(() => rmSync(root, { recursive: true, force: true }), () => rmSync(loggedIn, { recursive: true, force: true }));
    let stopped: Promise<void> | undefined;
    return {
      registry,
      front,
      host,
      root,
      deployment,
      loggedIn,
      env: { IMAGEWRIGHT_ROOT: root, DEPLOYMENT_NAME: deployment, REGISTRY: host, DOCKER_CONFIG: loggedIn },
      secrets: { 'the registry password': registry.password, 'its basic-auth base64': basicAuth(registry) },
      stop: () => (stopped ??= stopAll(stops)),
    };
  } catch (error) {
    await stopAll(stops);
    throw error;
  }
}

/**
 * The ECR stand-in (startEcr) in front of a real registry whose user is AWS, a DOCKER_CONFIG
 * logged in to that registry for skopeo (the oracle), and a temp deployment root. Commands get the
 * stand-in's AWS environment, ECR_ACCOUNT_ID, and an empty DOCKER_CONFIG: nothing stored beforehand.
 */
export async function startEcrFixture(options: RegistryFixtureOptions & { ecr?: Omit<EcrOptions, 'registry'> } = {}): Promise<EcrFixture> {
  const deployment = options.deployment ?? 'testdep';
  const stops: (() => Promise<void> | void)[] = [];
  try {
    const registry = await startRegistry({ username: 'AWS', ...options.registry });
    stops.unshift(() => registry.stop());
    const ecr = await startEcr({ ...options.ecr, registry });
    stops.unshift(() => ecr.stop());
    const loggedIn = dockerConfigWith({ [registry.host]: registry });
    const empty = mkdtempSync(join(tmpdir(), 'imagewright-empty-'));
    const root = tempDeploymentRoot(deployment);
    stops.push(...[root, loggedIn, empty].map((dir) => () => rmSync(dir, { recursive: true, force: true })));
    let stopped: Promise<void> | undefined;
    return {
      registry,
      ecr,
      ecrHost: `${ecr.accountId}.dkr.ecr.${ecr.region}.amazonaws.com`,
      root,
      deployment,
      loggedIn,
      env: { ...ecr.env, IMAGEWRIGHT_ROOT: root, DEPLOYMENT_NAME: deployment, ECR_ACCOUNT_ID: ecr.accountId, DOCKER_CONFIG: empty },
      secrets: { 'the registry token': registry.password, 'the token as basic-auth base64': basicAuth(registry), 'the AWS secret key': ecr.env.AWS_SECRET_ACCESS_KEY },
      stop: () => (stopped ??= stopAll(stops)),
    };
  } catch (error) {
    await stopAll(stops);
    throw error;
  }
}

/** Throws, naming the secret but not showing it, when one of `secrets` is in `output`. */
export function assertNoSecret(output: string, secrets: Record<string, string>, what: string): void {
  const found = Object.entries(secrets).filter(([, value]) => value && output.includes(value));
  if (found.length === 0) return;
  let redacted = output;
  for (const [name, value] of found) redacted = redacted.split(value).join(`<${name}>`);
  throw new Error(`${what}: ${found.map(([name]) => name).join(', ')} in its output:\n${redacted}`);
}

/**
 * runBin with the fixture's environment, IMAGE_REPO `repo` when given, then `env` over both; fails
 * (throws) when any of the fixture's secrets is in its stdout or stderr.
 */
export async function runRegistryCommand(
  fixture: Pick<RegistryFixture, 'env' | 'secrets'>,
  bin: string,
  args: string[] = [],
  options: { repo?: string; env?: NodeJS.ProcessEnv; input?: string; signalWhen?: { text: string; signal: NodeJS.Signals } } = {},
): Promise<BinResult> {
  const { repo, env, ...rest } = options;
  const result = await runBin(bin, args, { ...rest, env: { ...fixture.env, ...(repo === undefined ? {} : { IMAGE_REPO: repo }), ...env } });
  assertNoSecret(result.stdout + result.stderr, fixture.secrets, bin);
  return result;
}
