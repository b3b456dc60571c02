/**
 * /opt/patches/<source-id>/metadata.yaml: who patched the image, why, from what, with which
 * script, and how it ended. Written with a YAML library, so any characters survive (the original
 * printf'd two double-quoted fields without escaping).
 */

export interface PatchSource {
  /** The image as the user named it. */
  image: string;
  /** sha256:… image ID. */
  id: string;
  /** registry@sha256:… names the Engine knows for it (pulled images). */
  repoDigests: string[];
}

export interface PatchMetadata {
  author: string;
  description: string;
  /** When the patch ran (ISO 8601, UTC). */
  time: string;
  source: PatchSource;
  script: { name: string; sha256: string };
  /** Files beside the script (wheels, a CA bundle), by name. */
  files?: string[];
  imagewright: string;
  /** The script's exit status; only 0 is ever committed. */
  exitStatus: number;
}

/** What image-patches reads back: a metadata.yaml of this tool, or of the original's two fields. */
export type RecordedMetadata = Partial<PatchMetadata> & { author?: string; description?: string; legacy?: true; unreadable?: string };

const yaml = () => require('yaml') as typeof import('yaml');

export function metadataYaml(metadata: PatchMetadata): string {
  return yaml().stringify(metadata, { lineWidth: 0 });
}

/**
 * A metadata.yaml as found in an image. The original wrote `author: "…"` and
 * `description: "…"` unescaped, so a quote in the text made it invalid YAML: those two lines are
 * then read as they were meant (text between the first and the last quote).
 */
export function parseMetadata(text: string): RecordedMetadata {
  try {
    const doc = yaml().parse(text) as unknown;
    if (doc && typeof doc === 'object' && !Array.isArray(doc)) {
      const record = doc as Record<string, unknown>;
      const legacy = Object.keys(record).every((k) => k === 'author' || k === 'description');
      return legacy ? { ...(record as RecordedMetadata), legacy: true } : (record as RecordedMetadata);
    }
  } catch {
    /* the original's unescaped quotes: read line by line below */
  }
  const field = (name: string) => {
    const line = new RegExp(`^${name}:\\s*"(.*)"\\s*$`, 'm').exec(text);
    return line?.[1];
  };
  const author = field('author');
  const description = field('description');
  if (author === undefined && description === undefined) return { unreadable: text.slice(0, 200) };
  return { ...(author !== undefined ? { author } : {}), ...(description !== undefined ? { description } : {}), legacy: true };
}
