import type { Readable } from 'node:stream';
import { humanSize, usageError } from '@imagewright/core';
import { eachLayer, type Image } from './model';

/**
 * image-layers' logic, after dive: what each layer adds, what later layers throw away, and
 * copies of the same content in the final filesystem.
 *
 * Definitions (bytes are regular files' content; hard links, symlinks and directories count 0):
 * - a layer's size: the bytes of the files it adds;
 * - image bytes: Σ layer sizes; final bytes: the files visible in the final filesystem;
 * - wasted: every copy of a file that a later layer overwrites (by any type, or by replacing a
 *   parent directory with a non-directory) or deletes (whiteout of it or a parent, opaque
 *   parent), so image bytes = final bytes + wasted bytes;
 * - efficiency: final ÷ image bytes (1 for an empty image);
 * - duplicates (reported apart): files of the final filesystem with the same sha256 and size;
 *   the bytes hard links would save (all copies but one).
 */

export type FileKind = 'file' | 'dir' | 'symlink' | 'link' | 'other' | 'whiteout' | 'opaque';

/** One entry of a layer: for a whiteout the path it deletes, for an opaque marker its directory. */
export interface LayerFile {
  path: string;
  kind: FileKind;
  size: number;
  /** sha256 hex of a regular file's content. */
  digest?: string;
}

export interface LayerSummary {
  index: number;
  diffId: string;
  /** From the config's history (entries with a layer, in order); '' when it does not match. */
  createdBy: string;
  /** Bytes of the regular files the layer adds. */
  size: number;
  /** Non-directory entries it adds (files, links, symlinks, devices). */
  files: number;
  /** Whiteouts and opaque markers. */
  deletions: number;
  /** Of what it adds: non-directories a later layer overwrites or deletes, and their bytes. */
  hiddenFiles: number;
  hiddenBytes: number;
}

export interface WastedPath {
  path: string;
  /** Copies thrown away (the final one, if any, not counted). */
  copies: number;
  bytes: number;
}

export interface DuplicateGroup {
  digest: string;
  size: number;
  paths: string[];
}

export interface LayerReport {
  image: string;
  layers: LayerSummary[];
  imageBytes: number;
  finalBytes: number;
  finalFiles: number;
  wastedBytes: number;
  wastedFiles: number;
  efficiency: number;
  /** Paths with wasted copies, most bytes first. */
  wasted: WastedPath[];
  duplicates: { groups: number; files: number; bytes: number; top: DuplicateGroup[] };
}

const WHITEOUT = '.wh.';
const OPAQUE = '.wh..wh..opq';

/** A layer path as the layer rules compare them: no leading `./` or `/`, no trailing `/`; undefined for the root or an escape. */
export function layerPath(name: string): string | undefined {
  const { posix } = require('node:path') as typeof import('node:path');
  const clean = posix.normalize(name.replace(/^\/+/, '')).replace(/\/+$/, '');
  return clean === '.' || clean === '' || clean === '..' || clean.startsWith('../') ? undefined : clean;
}

/** The entries of a layer tar, regular files hashed as they stream by. */
export async function layerEntries(tar: Readable): Promise<LayerFile[]> {
  const { extract } = require('tar-stream') as typeof import('tar-stream');
  const { createHash } = require('node:crypto') as typeof import('node:crypto');
  const { posix } = require('node:path') as typeof import('node:path');
  const entries: LayerFile[] = [];
  const reader = extract();
  const done = new Promise<void>((resolve, reject) => {
    reader.on('finish', resolve);
    reader.on('error', reject);
    tar.on('error', reject);
  });
  reader.on('entry', (header, body, next) => {
    const path = layerPath(header.name);
    const base = path === undefined ? '' : posix.basename(path);
    const dir = path === undefined ? '' : posix.dirname(path);
    const under = (name: string) => (dir === '.' ? name : `${dir}/${name}`);
    let entry: LayerFile | undefined;
    if (path === undefined) entry = undefined;
    else if (base === OPAQUE) entry = { path: dir === '.' ? '' : dir, kind: 'opaque', size: 0 };
    else if (base.startsWith(`${WHITEOUT}${WHITEOUT}`)) entry = undefined; // AUFS metadata, not a whiteout
    else if (base.startsWith(WHITEOUT) && base.length > WHITEOUT.length) entry = { path: under(base.slice(WHITEOUT.length)), kind: 'whiteout', size: 0 };
    else {
      const kind: FileKind =
        header.type === 'file' || header.type === 'contiguous-file' ? 'file' : header.type === 'directory' ? 'dir' : header.type === 'symlink' ? 'symlink' : header.type === 'link' ? 'link' : 'other';
      entry = { path, kind, size: kind === 'file' ? (header.size ?? 0) : 0 };
    }
    if (entry) entries.push(entry);
    if (entry?.kind !== 'file') {
      body.on('end', () => next());
      body.resume();
      return;
    }
    const hash = createHash('sha256');
    body.on('data', (chunk) => hash.update(chunk as Buffer));
    body.on('end', () => {
      entry.digest = hash.digest('hex');
      next();
    });
  });
  tar.pipe(reader);
  await done;
  return entries;
}

function ancestors(path: string): string[] {
  const up: string[] = [];
  for (let i = path.lastIndexOf('/'); i > 0; i = path.lastIndexOf('/', i - 1)) up.push(path.slice(0, i));
  // The root directory: an opaque marker at the top level hides every lower entry.
  up.push('');
  return up;
}

/** The report for layers' entries (bottom → top), with the config's diff_ids and history. */
export function analyseEntries(name: string, layers: LayerFile[][], diffIds: string[], createdBy: string[]): LayerReport {
  const summaries: LayerSummary[] = layers.map((entries, index) => ({
    index,
    diffId: diffIds[index] ?? '',
    createdBy: createdBy[index] ?? '',
    size: entries.reduce((sum, e) => sum + (e.kind === 'file' ? e.size : 0), 0),
    files: entries.filter((e) => e.kind !== 'dir' && e.kind !== 'whiteout' && e.kind !== 'opaque').length,
    deletions: entries.filter((e) => e.kind === 'whiteout' || e.kind === 'opaque').length,
    hiddenFiles: 0,
    hiddenBytes: 0,
  }));
  // Top → bottom: what upper layers wrote (path → is a directory), deleted and made opaque.
  const seen = new Map<string, boolean>();
  const deleted = new Set<string>();
  const opaque = new Set<string>();
  const wasted = new Map<string, WastedPath>();
  const visible: LayerFile[] = [];
  const hidden = (e: LayerFile): boolean => {
    const upper = seen.get(e.path);
    // A directory over a directory merges; anything else over anything replaces.
    if (upper !== undefined && !(upper && e.kind === 'dir')) return true;
    if (deleted.has(e.path)) return true;
    return ancestors(e.path).some((a) => deleted.has(a) || opaque.has(a) || seen.get(a) === false);
  };
  for (let index = layers.length - 1; index >= 0; index--) {
    const entries = layers[index];
    const summary = summaries[index];
    for (const e of entries) {
      if (e.kind === 'whiteout' || e.kind === 'opaque' || e.kind === 'dir') continue;
      if (!hidden(e)) {
        visible.push(e);
        continue;
      }
      summary.hiddenFiles++;
      summary.hiddenBytes += e.kind === 'file' ? e.size : 0;
      if (e.kind === 'file') {
        const w = wasted.get(e.path) ?? { path: e.path, copies: 0, bytes: 0 };
        w.copies++;
        w.bytes += e.size;
        wasted.set(e.path, w);
      }
    }
    // This layer's whiteouts and opaque markers apply to lower layers only.
    for (const e of entries) {
      if (e.kind === 'whiteout') deleted.add(e.path);
      else if (e.kind === 'opaque') opaque.add(e.path);
      else if (!seen.has(e.path)) seen.set(e.path, e.kind === 'dir');
    }
  }
  const files = visible.filter((e) => e.kind === 'file');
  const byContent = new Map<string, DuplicateGroup>();
  for (const f of files) {
    if (f.size === 0 || !f.digest) continue;
    const key = `${f.digest}:${f.size}`;
    const group = byContent.get(key) ?? { digest: `sha256:${f.digest}`, size: f.size, paths: [] };
    group.paths.push(f.path);
    byContent.set(key, group);
  }
  const groups = [...byContent.values()].filter((g) => g.paths.length > 1);
  for (const g of groups) g.paths.sort();
  groups.sort((a, b) => b.size * (b.paths.length - 1) - a.size * (a.paths.length - 1) || (a.paths[0] < b.paths[0] ? -1 : 1));
  const imageBytes = summaries.reduce((sum, l) => sum + l.size, 0);
  const finalBytes = files.reduce((sum, f) => sum + f.size, 0);
  const wastedBytes = summaries.reduce((sum, l) => sum + l.hiddenBytes, 0);
  return {
    image: name,
    layers: summaries,
    imageBytes,
    finalBytes,
    finalFiles: files.length,
    wastedBytes,
    wastedFiles: summaries.reduce((sum, l) => sum + l.hiddenFiles, 0),
    efficiency: imageBytes === 0 ? 1 : finalBytes / imageBytes,
    wasted: [...wasted.values()].sort((a, b) => b.bytes - a.bytes || (a.path < b.path ? -1 : 1)),
    duplicates: {
      groups: groups.length,
      files: groups.reduce((sum, g) => sum + g.paths.length, 0),
      bytes: groups.reduce((sum, g) => sum + g.size * (g.paths.length - 1), 0),
      top: groups,
    },
  };
}

/** Reads every layer of `image` once (in the order its source delivers them) and reports. */
export async function analyseImage(image: Image): Promise<LayerReport> {
  const config = await image.config();
  const layers = await eachLayer(image, layerEntries);
  const diffIds = config.rootfs?.diff_ids ?? [];
  const withLayer = (config.history ?? []).filter((h) => !h.empty_layer);
  // History that does not match the layers one for one says nothing reliable about them.
  const createdBy = withLayer.length === layers.length ? withLayer.map((h) => h.created_by ?? '') : [];
  return analyseEntries(image.name, layers, diffIds, createdBy);
}

/** Bytes: an integer or decimal with an optional unit, K/M/G/T decimal (kB as docker prints), KiB/MiB/GiB/TiB binary. */
export function parseBytes(text: string, input = '--max-wasted'): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?)(b?)\s*$/i.exec(text);
  if (!m || (m[3] && !m[2])) throw usageError(`${input} ${JSON.stringify(text)}: allowed bytes, e.g. 50000000, 50MB, 48MiB, 1.5G`);
  const power = ' kmgt'.indexOf(m[2].toLowerCase() || ' ');
  return Math.round(Number(m[1]) * (m[3] ? 1024 : 1000) ** power);
}

/** A ratio from 0 to 1. */
export function parseRatio(text: string, input = '--min-efficiency'): number {
  const value = /^\s*(\d+(\.\d*)?|\.\d+)\s*$/.test(text) ? Number(text) : NaN;
  if (!(value >= 0 && value <= 1)) throw usageError(`${input} ${JSON.stringify(text)}: allowed a ratio from 0 to 1, e.g. 0.9`);
  return value;
}

export interface Thresholds {
  maxWasted?: number;
  minEfficiency?: number;
}

/** The thresholds the report fails, one line each (empty: it passes). */
export function failedThresholds(report: LayerReport, thresholds: Thresholds): string[] {
  const failed: string[] = [];
  if (thresholds.maxWasted !== undefined && report.wastedBytes > thresholds.maxWasted) {
    failed.push(`wasted ${report.wastedBytes} bytes (${humanSize(report.wastedBytes)}) > --max-wasted ${thresholds.maxWasted} bytes (${humanSize(thresholds.maxWasted)})`);
  }
  if (thresholds.minEfficiency !== undefined && report.efficiency < thresholds.minEfficiency) {
    failed.push(`efficiency ${formatRatio(report.efficiency)} < --min-efficiency ${thresholds.minEfficiency}`);
  }
  return failed;
}

export const formatRatio = (value: number) => value.toFixed(4);

const oneLine = (text: string) => text.replace(/\s+/g, ' ').trim();

/** The layers as table rows: LAYER SIZE FILES WASTED CREATED BY. */
export function layerRows(report: LayerReport, width = 60): string[][] {
  return report.layers.map((l) => {
    const by = oneLine(l.createdBy);
    return [String(l.index), humanSize(l.size), String(l.files), humanSize(l.hiddenBytes), by.length > width ? `${by.slice(0, width - 1)}…` : by];
  });
}

/** The totals, one line each. */
export function summaryLines(report: LayerReport, top = 10): string[] {
  const d = report.duplicates;
  return [
    `image bytes: ${report.imageBytes} (${humanSize(report.imageBytes)})`,
    `final filesystem: ${report.finalBytes} (${humanSize(report.finalBytes)}) in ${report.finalFiles} files`,
    `wasted: ${report.wastedBytes} (${humanSize(report.wastedBytes)}) in ${report.wastedFiles} files overwritten or deleted by later layers`,
    `duplicates: ${d.groups} contents in ${d.files} files; hard links would save ${d.bytes} (${humanSize(d.bytes)})`,
    `efficiency: ${formatRatio(report.efficiency)}`,
    ...report.wasted.slice(0, top).map((w) => `wasted ${humanSize(w.bytes)} ${w.copies}× ${w.path}`),
  ];
}
