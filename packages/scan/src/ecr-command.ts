import { type CommandContext, usageError } from '@imagewright/core';
import { ecrScan } from './ecr';
import type { ScanResult } from './finding';

/**
 * Which pushed image ECR's scan is read for: the config's ECR registry, IMAGE_REPO at PUSH_TAG
 * (what image-push pushed; `unscanned-X` falls back to X), or the repository:tag / @digest of an
 * explicit IMAGE, or --image-digest.
 */
export function ecrTargetFor(ctx: CommandContext, input: string | undefined): import('./ecr').EcrScanTarget {
  const { config } = ctx.loaded;
  if (!config.ECR_ACCOUNT_ID || !config.AWS_REGION || config.REGISTRY) {
    throw usageError('--backend ecr needs an ECR registry: set ECR_ACCOUNT_ID and AWS_REGION (and no REGISTRY)');
  }
  const { openRegistry } = require('@imagewright/registry') as typeof import('@imagewright/registry');
  const registry = openRegistry(config, ctx.env) as import('@imagewright/registry').EcrRegistry;
  const digest = ctx.values['image-digest'] as string | undefined;
  if (digest !== undefined && !/^sha256:[0-9a-f]{64}$/.test(digest)) throw usageError(`--image-digest ${JSON.stringify(digest)}: allowed sha256:<64 hex digits>`);
  if (input === undefined || input === config.IMAGE_ID) {
    return { registry, repository: config.IMAGE_REPO, image: digest ? { digest } : { tag: config.PUSH_TAG } };
  }
  // An explicit reference: its repository (host left out) and tag or digest.
  const { parseLocation, splitRegistryRef } = require('@imagewright/image') as typeof import('@imagewright/image');
  const location = parseLocation(input, 'IMAGE');
  if (location.transport !== 'engine' && location.transport !== 'registry') {
    throw usageError(`IMAGE ${input}: the ecr backend reads the scan of a pushed image; allowed REPOSITORY[:TAG|@DIGEST] or docker://HOST/REPOSITORY:TAG`);
  }
  const ref = splitRegistryRef(location.ref, 'IMAGE');
  // A bare name is an ECR repository, not Docker Hub's library/.
  const repository = ref.host === 'docker.io' && !location.ref.startsWith('docker.io/') ? ref.repository.replace(/^library\//, '') : ref.repository;
  return { registry, repository, image: digest ? { digest } : ref.digest ? { digest: ref.digest } : { tag: ref.tag ?? 'latest' } };
}

export async function ecrScanFor(ctx: CommandContext, target: { input: string; what: string; onProgress?: (line: string) => void }, timeoutMs: number): Promise<ScanResult> {
  // IMAGE_ID itself (the default) means the pushed image: IMAGE_REPO at PUSH_TAG.
  return ecrScan(ecrTargetFor(ctx, target.input), {
    timeout: timeoutMs,
    onProgress: ({ image, status, waitedMs }) => target.onProgress?.(`waiting for ECR's scan of ${image}: ${status}, ${Math.round(waitedMs / 1000)} s`),
  });
}
