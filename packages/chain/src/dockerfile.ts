import { copyFileSync, existsSync, readFileSync } from 'node:fs';
import { failure, writeFileAtomic, type CommonImage, type Deployment } from '@imagewright/core';

/** Dockerfile.custom + the common trailer, as the original `cat` did, but never gluing two lines. */
export function renderDockerfile(custom: string, trailer: string): string {
  return custom.length === 0 || custom.endsWith('\n') ? custom + trailer : `${custom}\n${trailer}`;
}

export interface DockerfileUpdate {
  path: string;
  status: 'unchanged' | 'written' | 'opted-out';
  /** The replaced content, kept beside it (the Dockerfile may have been edited by hand). */
  backup?: string;
}

/**
 * image-update: regenerates the deployment's Dockerfile. Unlike the original it never reverts
 * anything (no `git checkout -- environments/frozen`), and a Dockerfile it replaces is kept as
 * Dockerfile.bak. A deployment without Dockerfile.custom has opted out: its Dockerfile is left alone.
 */
export function updateDockerfile(deployment: Deployment, common: CommonImage): DockerfileUpdate {
  const path = deployment.dockerfile;
  if (!deployment.dockerfileCustom) return { path, status: 'opted-out' };
  if (!existsSync(common.trailer)) throw failure(`${common.trailer}: missing (the common Dockerfile trailer)`);
  const content = renderDockerfile(readFileSync(deployment.dockerfileCustom, 'utf8'), readFileSync(common.trailer, 'utf8'));
  const existing = existsSync(path) ? readFileSync(path, 'utf8') : undefined;
  if (existing === content) return { path, status: 'unchanged' };
  let backup: string | undefined;
  if (existing !== undefined) {
    backup = `${path}.bak`;
    copyFileSync(path, backup);
  }
  writeFileAtomic(path, content);
  return { path, status: 'written', backup };
}
