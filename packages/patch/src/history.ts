import type { Image } from '@imagewright/image';
import { PATCHES_DIR } from './frame';
import { parseMetadata, type RecordedMetadata } from './metadata';

export interface RecordedPatch {
  /** /opt/patches/<source-id> */
  dir: string;
  /** The layer (bottom → top, 0-based) its metadata.yaml is in: the patch's commit. */
  layer: number;
  metadata: RecordedMetadata;
}

const ROOT = PATCHES_DIR.slice(1);
const METADATA = new RegExp(`^${ROOT}/[^/]+/metadata\\.yaml$`);

/**
 * The patches recorded in an image, oldest first, read from its layers (no container): each
 * /opt/patches/<source-id>/metadata.yaml. Each patch is its own commit, so the layer a record is
 * in gives the order; the recorded time breaks ties (a squashed image has them in one layer), then
 * the folder name. The original's folders (two-field metadata) are read too.
 */
export async function patchHistory(image: Image): Promise<RecordedPatch[]> {
  const { readFiles } = require('@imagewright/image') as typeof import('@imagewright/image');
  const files = await readFiles(image, (path) => METADATA.test(path));
  const patches: RecordedPatch[] = [];
  for (const file of files.values()) {
    if (file.kind !== 'file' || !file.content) continue;
    patches.push({ dir: `/${file.path.slice(0, -'/metadata.yaml'.length)}`, layer: file.layer, metadata: parseMetadata(file.content.toString('utf8')) });
  }
  return patches.sort((a, b) => a.layer - b.layer || String(a.metadata.time ?? '').localeCompare(String(b.metadata.time ?? '')) || a.dir.localeCompare(b.dir));
}
