/** What every format's store does: text to tree (all entries, `sops` included) and back. */
import type { Tree, Value } from '../tree';

export interface Store {
  /** Parses the file; a ParseError says where it is wrong (never quoting a value). */
  load(input: string | Buffer, name: string): Tree;
  /** The file's text as sops writes it. */
  emit(tree: Tree): string;
  /** One value as sops' EmitValue writes it (for --extract). */
  emitValue?(value: Value): string;
}

export class ParseError extends Error {
  constructor(
    message: string,
    /** 1-based line, where known. */
    readonly line?: number,
  ) {
    super(message);
  }
}

export function text(input: string | Buffer): string {
  return typeof input === 'string' ? input : input.toString('utf8');
}

/** The 1-based line of an offset. */
export function lineAt(source: string, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset && i < source.length; i++) if (source.charCodeAt(i) === 10) line++;
  return line;
}
