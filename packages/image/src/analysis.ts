import type { Readable } from 'node:stream';
import { humanSize, usageError } from '@imagewright/core';
import { type EntryKind, readEntries } from './entries';
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

/** One entry of a layer: for a whiteout the path it deletes, for an opaque marker its directory. */
export interface LayerFile {
  path: string;
  kind: EntryKind;
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

/** The entries of a layer tar (the layer rules of readEntries), regular files hashed as they stream by. */
export async function layerFiles(tar: Readable, label?: string): Promise<LayerFile[]> {
  const { createHash } = require('node:crypto') as typeof import('node:crypto');
  const files: LayerFile[] = [];
  for await (const entry of readEntries(tar, { label })) {
    if (entry.kind === 'whiteout' || entry.kind === 'opaque') {
      files.push({ path: entry.target, kind: entry.kind, size: 0 });
      continue;
    }
    // The root directory's own entry changes nothing the report counts.
    if (entry.name === '') continue;
    if (entry.kind !== 'file') {
      files.push({ path: entry.name, kind: entry.kind, size: 0 });
      continue;
    }
    const hash = createHash('sha256');
    for await (const chunk of entry.body) hash.update(chunk);
    files.push({ path: entry.name, kind: 'file', size: entry.header.size ?? 0, digest: hash.digest('hex') });
  }
  return files;
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
  // eachLayer may visit layers in any order: messages name the image only.
  const layers = await eachLayer(image, (tar) => layerFiles(tar, image.name));
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
