import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import type { Loaded } from '@imagewright/core';
import { buildImage, promoteTag, type Engine, type Promotion } from '@imagewright/docker';
import { checkSpecs, frozenLayout } from '@imagewright/environments';
import { updateDockerfile, type DockerfileUpdate } from './dockerfile';
import { ensureRootImage, type RootResult } from './root';

export interface ChainOptions {
  noCache?: boolean;
  rebuildBase?: boolean;
  /** Step output (stderr by default). */
  log?: Writable & { isTTY?: boolean };
  /** Called with a banner before each step. */
  step?: (text: string) => void;
}

export interface ChainResult {
  dockerfile: DockerfileUpdate;
  root: RootResult;
  common: Promotion;
  image: Promotion;
}

/** The ARG names a Dockerfile declares: only those are passed (the builder warns about others). */
export function declaredArgs(dockerfile: string): Set<string> {
  const names = new Set<string>();
  for (const match of dockerfile.matchAll(/^\s*ARG\s+([A-Za-z_][A-Za-z0-9_]*)/gim)) names.add(match[1]);
  return names;
}

function argsFor(dockerfilePath: string, candidates: Record<string, string>): Record<string, string> {
  const declared = declaredArgs(readFileSync(dockerfilePath, 'utf8'));
  return Object.fromEntries(Object.entries(candidates).filter(([name]) => declared.has(name)));
}

/**
 * image-build: image-update, the root image when missing, then the common image FROM the root
 * and the mission image FROM the new common image (by ID). Tags move only once both built, and
 * each replaced image keeps a `-previous` backup tag; a failing step moves none.
 */
export async function buildChain(engine: Engine, loaded: Loaded, options: ChainOptions = {}): Promise<ChainResult> {
  const { config, tree, deployment } = loaded;
  const step = options.step ?? (() => {});
  const common = tree.common();
  // USE_FROZEN=1/2 without the frozen/chilled file of some environment: say so before any work.
  checkSpecs(deployment, config.USE_FROZEN);
  // A mission's Dockerfile copies environments/frozen/; before the first freeze it may not exist.
  if (deployment.environments.length > 0 && frozenLayout(deployment) === 'flat') {
    mkdirSync(join(deployment.environmentsDir, 'frozen'), { recursive: true });
  }

  step('image-update: generating the deployment Dockerfile');
  const dockerfile = updateDockerfile(deployment, common);

  step(`image-base: root image ${deployment.spec.root.image}`);
  const root = await ensureRootImage(engine, deployment.spec.root, { rebuild: options.rebuildBase, log: options.log });

  const labels = { 'io.imagewright.deployment': deployment.name, 'io.imagewright.environment': config.ENVIRONMENT };
  const shared = { USE_FROZEN: config.USE_FROZEN, CONDA_VER: config.CONDA_VER };

  step(`building common image ${config.COMMON_ID}`);
  const commonId = await buildImage(engine, {
    context: common.dir,
    buildArgs: argsFor(common.dockerfile, { ...shared, ROOT_IMAGE: root.ref }),
    labels: { ...labels, 'io.imagewright.role': 'common' },
    noCache: options.noCache,
    output: options.log,
  });

  step(`building mission image ${config.IMAGE_ID}`);
  const imageId = await buildImage(engine, {
    context: deployment.imageDir,
    buildArgs: argsFor(join(deployment.imageDir, 'Dockerfile'), { ...shared, BASE_IMAGE: commonId }),
    labels: { ...labels, 'io.imagewright.role': 'mission' },
    noCache: options.noCache,
    output: options.log,
  });

  return {
    dockerfile,
    root,
    common: await promoteTag(engine, commonId, config.COMMON_ID),
    image: await promoteTag(engine, imageId, config.IMAGE_ID),
  };
}
