import type { Readable, Writable } from 'node:stream';
import { failure, humanSize } from '@imagewright/core';

/** One message of the Engine's JSON progress stream (build, pull, push, import). */
export interface JsonMessage {
  stream?: string;
  status?: string;
  id?: string;
  progress?: string;
  progressDetail?: { current?: number; total?: number };
  aux?: { ID?: string; Digest?: string; Tag?: string };
  error?: string;
  errorDetail?: { message?: string };
}

export function progressBar(current: number, total: number, width = 50): string {
  const ratio = Math.min(1, total > 0 ? current / total : 0);
  const filled = Math.floor(ratio * width);
  const bar = filled >= width ? '='.repeat(width) : `${'='.repeat(filled)}>${' '.repeat(width - filled - 1)}`;
  return `[${bar}] ${humanSize(current)}/${humanSize(total)}`;
}

/**
 * Renders the stream like the docker CLI: on a terminal one line per layer id, redrawn in place
 * with its progress bar; in a pipe only status changes, one plain line each (no bar spam).
 */
export class ProgressRenderer {
  private readonly lines = new Map<string, number>();
  private readonly lastStatus = new Map<string, string>();
  private count = 0;
  constructor(private readonly out: Writable, private readonly tty: boolean) {}

  write(msg: JsonMessage): void {
    if (msg.stream !== undefined) {
      this.out.write(msg.stream);
      this.lines.clear();
      this.count = 0;
      return;
    }
    if (msg.status === undefined) return;
    const progress = msg.progress ?? (msg.progressDetail?.total ? progressBar(msg.progressDetail.current ?? 0, msg.progressDetail.total) : '');
    if (!msg.id) {
      this.out.write(`${msg.status}${progress ? ` ${progress}` : ''}\n`);
      this.lines.clear();
      this.count = 0;
      return;
    }
    if (!this.tty) {
      if (this.lastStatus.get(msg.id) === msg.status) return;
      this.lastStatus.set(msg.id, msg.status);
      this.out.write(`${msg.id}: ${msg.status}\n`);
      return;
    }
    const text = `${msg.id}: ${msg.status}${progress ? ` ${progress}` : ''}`;
    const index = this.lines.get(msg.id);
    if (index === undefined) {
      this.lines.set(msg.id, this.count++);
      this.out.write(`${text}\n`);
      return;
    }
    const up = this.count - index;
    // Move up to the id's line, clear it, rewrite, and come back down.
    this.out.write(`\x1b[${up}A\r\x1b[2K${text}\r\x1b[${up}B`);
  }
}

export interface FollowResult {
  /** aux.ID of a build or import: the new image's ID. */
  imageId?: string;
  messages: JsonMessage[];
}

/**
 * Reads a JSON message stream to its end, rendering as it goes. An `error` message (a failed
 * build step, a failed pull) rejects with exit code 1 after its output has been shown.
 */
export async function followProgress(stream: Readable, render?: ProgressRenderer): Promise<FollowResult> {
  const messages: JsonMessage[] = [];
  let imageId: string | undefined;
  let buffer = '';
  let error: string | undefined;
  const handle = (line: string) => {
    if (!line.trim()) return;
    let msg: JsonMessage;
    try {
      msg = JSON.parse(line) as JsonMessage;
    } catch {
      msg = { stream: `${line}\n` };
    }
    messages.push(msg);
    if (msg.aux?.ID) imageId = msg.aux.ID;
    if (msg.error) error = msg.errorDetail?.message ?? msg.error;
    else render?.write(msg);
  };
  for await (const chunk of stream) {
    buffer += chunk.toString();
    let nl: number;
    while ((nl = buffer.indexOf('\n')) >= 0) {
      handle(buffer.slice(0, nl));
      buffer = buffer.slice(nl + 1);
    }
  }
  handle(buffer);
  // Engine import answers {"status":"sha256:…"} instead of aux.ID.
  if (!imageId) imageId = messages.map((m) => m.status).find((s) => s && /^sha256:[0-9a-f]{64}$/.test(s));
  if (error) throw failure(error.trim());
  return { imageId, messages };
}
