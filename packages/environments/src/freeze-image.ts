import { relative } from 'node:path';
import { shownPath, statusLine, type Deployment } from '@imagewright/core';
import type { Engine, RunFlags } from '@imagewright/docker';
import { describeChanges, planFreeze, writeFreeze, type FreezePlan } from './freeze';
import { exportEnvironments } from './image';

/**
 * image-freeze: exports every environment the deployment declares from the built image and
 * writes the frozen files that changed (all of them or none). Other files are never touched.
 */
export async function freezeFromImage(engine: Engine, image: string, deployment: Deployment, flags?: RunFlags): Promise<FreezePlan[]> {
  if (deployment.environments.length === 0) return [];
  const exports = await exportEnvironments(engine, image, deployment.environments, flags);
  const plans = planFreeze(deployment, exports);
  writeFreeze(plans);
  return plans;
}

/** One status line per environment: added/changed/unchanged, the file, and what moved. */
export function freezeLines(plans: FreezePlan[], root: string): string[] {
  return plans.map((p) => statusLine(p.status, shownPath(p.file, root), p.status === 'unchanged' ? undefined : describeChanges(p.changes)));
}

/** --json: the plans without the file text. */
export function freezeJson(plans: FreezePlan[], root: string) {
  return plans.map(({ text: _text, ...p }) => ({ ...p, file: relative(root, p.file) }));
}
