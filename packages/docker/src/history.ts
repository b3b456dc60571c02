import { failure, GO_JSON, goJson, humanDuration, humanSize, usageError } from '@imagewright/core';
import type { Engine } from './client';

/** One row of an image's history, newest first, as the Engine API reports it. */
export interface HistoryEntry {
  /** The layer's local image ID (`sha256:…`), or `<missing>` for steps built elsewhere (pulled). */
  id: string;
  created: Date;
  /** The Dockerfile step or command that made the layer ('' for imported roots). */
  createdBy: string;
  /** Bytes the step added. */
  size: number;
  comment: string;
  tags: string[];
}

/** GET /images/{name}/history, as the Engine sends it. */
interface ApiHistoryItem {
  Id: string;
  Created: number;
  CreatedBy?: string;
  Tags?: string[] | null;
  Size?: number;
  Comment?: string;
}

interface EngineError {
  statusCode?: number;
  json?: { message?: string } | string | null;
  message?: string;
}

/** The engine's own one-line reason (dockerode wraps it in "(HTTP code 404) no such image - …"). */
function engineReason(error: unknown): string {
  const e = error as EngineError;
  const fromJson = typeof e.json === 'object' && e.json ? e.json.message : undefined;
  return (fromJson ?? e.message ?? String(error)).trim();
}

/** The history of a local image (no pull: history is a question about what is here). */
export async function imageHistory(engine: Engine, ref: string): Promise<HistoryEntry[]> {
  let items: ApiHistoryItem[];
  try {
    items = (await engine.getImage(ref).history()) as ApiHistoryItem[];
  } catch (error) {
    const status = (error as EngineError).statusCode;
    const reason = engineReason(error);
    if (status === 404) throw failure(`image ${ref} not found locally: ${reason}`, error);
    if (status === 400) throw usageError(`image ${JSON.stringify(ref)} is invalid (${reason}): allowed a local image reference or ID`);
    throw failure(`history of image ${ref} failed: ${reason}`, error);
  }
  return items.map((item) => ({
    id: item.Id,
    created: new Date(item.Created * 1000),
    createdBy: item.CreatedBy ?? '',
    size: item.Size ?? 0,
    comment: item.Comment ?? '',
    tags: item.Tags ?? [],
  }));
}

/** `docker history`'s default table (`--format table`), and its `--human=false` variant. */
export const HISTORY_TABLE_FORMAT = 'table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}';
export const HISTORY_TABLE_FORMAT_EXACT = 'table {{.ID}}\t{{.CreatedAt}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}';
/** The header row of a `table` format: field → column name, as docker/cli's formatter_history.go. */
export const HISTORY_HEADER: Record<keyof HistoryRow, string> = {
  ID: 'IMAGE',
  CreatedSince: 'CREATED',
  CreatedAt: 'CREATED AT',
  CreatedBy: 'CREATED BY',
  Size: 'SIZE',
  Comment: 'COMMENT',
};

// docker/cli shows N/A instead of an age for times up to 2000-01-01: zero and SOURCE_DATE_EPOCH=0
// builds would otherwise read "56 years ago".
const AGE_EPOCH_MS = Date.UTC(2000, 0, 1);

/** The CREATED cell: "<HumanDuration> ago", or N/A for dates up to 2000. */
export function createdSince(created: Date, now: number = Date.now()): string {
  if (created.getTime() <= AGE_EPOCH_MS) return 'N/A';
  return `${humanDuration(now - created.getTime())} ago`;
}

/** Go's time.RFC3339 in the local zone ("2006-01-02T15:04:05Z07:00"), as `--human=false` prints. */
export function rfc3339(date: Date): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  const local =
    `${String(date.getFullYear()).padStart(4, '0')}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}` +
    `T${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
  const east = -date.getTimezoneOffset();
  if (east === 0) return `${local}Z`;
  const abs = Math.abs(east);
  return `${local}${east > 0 ? '+' : '-'}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
}

export interface HistoryRowOptions {
  /** Ages and decimal sizes (default), else RFC 3339 times and bytes (`--human=false`). */
  human?: boolean;
  /** Clock for the ages (tests). */
  now?: number;
}

/**
 * One row as `docker history --no-trunc --format` sees it (docker/cli's historyContext): the
 * fields a template names, every one a string. `{{json .}}` is docker's: the fields as a sorted,
 * HTML-escaped JSON object.
 */
export interface HistoryRow {
  ID: string;
  /** The age, N/A up to 2000; the RFC 3339 time when not human. */
  CreatedSince: string;
  CreatedAt: string;
  /** Tabs replaced by spaces (they would break a table's columns). */
  CreatedBy: string;
  Size: string;
  Comment: string;
}

export function historyRows(entries: HistoryEntry[], options: HistoryRowOptions = {}): HistoryRow[] {
  const human = options.human ?? true;
  const now = options.now ?? Date.now();
  return entries.map((e) => {
    const createdAt = rfc3339(e.created);
    const row: HistoryRow = {
      ID: e.id,
      CreatedSince: human ? createdSince(e.created, now) : createdAt,
      CreatedAt: createdAt,
      CreatedBy: e.createdBy.replace(/\t/g, ' '),
      Size: human ? humanSize(e.size) : String(e.size),
      Comment: e.comment,
    };
    // Not enumerable: neither a template field nor part of its own JSON.
    Object.defineProperty(row, GO_JSON, { value: () => goJson({ ...row }, { escapeHTML: true }) });
    return row;
  });
}

export interface HistoryJson {
  id: string;
  /** ISO 8601, UTC. */
  created: string;
  createdBy: string;
  size: number;
  comment: string;
  tags: string[];
}

/** `--json` rows: exact values (raw createdBy, bytes, ISO time), no display rounding. */
export function historyJson(entries: HistoryEntry[]): HistoryJson[] {
  return entries.map((e) => ({
    id: e.id,
    created: e.created.toISOString(),
    createdBy: e.createdBy,
    size: e.size,
    comment: e.comment,
    tags: e.tags,
  }));
}
