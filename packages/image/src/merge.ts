import type { Readable, Transform } from 'node:stream';
import type { Header, Pack } from 'tar-stream';
import { failure } from '@imagewright/core';
import { Crosslinker, type EntryWriter } from './crosslinker';
import { type LayerEntry, readEntries } from './entries';
import type { Layer, LayerInProgress } from './model';
import { ancestors, headerForPack, loadTar, normalizeName, opaqueName, whiteoutName } from './tar-rules';

export interface MergeOptions {
  /** layers[0..keep) stay below as they are; layers[keep..] are merged into one. Default 0. */
  keep?: number;
  /** Turn identical contents into hard links: true (default) for every path, or under these paths only. */
  crosslink?: boolean | string[];
  /** Entries to leave out, by normalised name (e.g. the Engine's `.dockerenv` in a container export). */
  drop?: (name: string) => boolean;
  /** Called as layer bytes are read, with the total so far (re-reads included). */
  onProgress?: (bytesRead: number) => void;
}

export interface MergeStats {
  /** Uncompressed layer bytes read (the merged layers, re-reads, and the kept layers' scan). */
  bytesRead: number;
  entriesWritten: number;
  /** Non-directory entries overwritten or deleted by upper layers, and their bytes. */
  filesDropped: number;
  bytesDropped: number;
  /** Files written as hard links to an identical earlier file, and the bytes that saved. */
  linksMade: number;
  bytesSavedByLinks: number;
  diffId: string;
  size: number;
}

export type MergedLayer = LayerInProgress & { stats: Promise<MergeStats> };

/**
 * Merges layers[keep..] into one layer tar, streamed: layers are read top → bottom and the first
 * writer of a path wins (peers.md C.6). Memory holds paths (Maps and Sets), never contents, except
 * what the crosslinker holds while hashing a file whose size was seen before.
 *
 * Rules, per entry of a layer (names normalised):
 * - whiteouts and opaque markers are recorded for the layer and hide LOWER layers only, once the
 *   layer has been read (entries of the same layer are unaffected, whatever their order);
 * - an entry is left out when an upper layer wrote its path (a directory over a directory keeps
 *   the upper one's attributes), when the path or an ancestor is whited out above, when an
 *   ancestor is an opaque directory above, or when an ancestor was written as a non-directory;
 * - a non-directory left out because an upper layer has a directory there replaces, for the
 *   layers below, whatever they had at that path: it counts as a whiteout of it;
 * - the first entry of a path in a layer wins (the spec forbids duplicates);
 * - an upper entry below a lower non-directory (say a file under a path a lower layer made a
 *   symlink) makes that path a directory: paths are not resolved through symlinks.
 * Hard links get the content their target had when their layer was applied: a link is written
 * after its target's output, to the regular file holding it; when that version of the target is
 * not in the output (overwritten or deleted above), the first link becomes a copy of it and the
 * others link to that copy. Same-layer targets whose content was already skipped are copied in
 * one re-read of the layer after it.
 *
 * With keep > 0, whiteouts and opaque markers that still matter are written again (at the end)
 * when what they hide exists in the kept layers, and a directory deleted (or replaced) and made
 * again in the merged layers gets an opaque marker. With keep = 0 no whiteout is written.
 */
/** Bytes of output the merge may write before its reader takes them. */
const READ_AHEAD = 8 * 1024 * 1024;
/** Output is passed on in pieces of about this size. */
const GATHER = 256 * 1024;

export function mergeLayers(layers: Layer[], options: MergeOptions = {}): MergedLayer {
  const { Transform } = require('node:stream') as typeof import('node:stream');
  const { createHash } = require('node:crypto') as typeof import('node:crypto');
  const hash = createHash('sha256');
  let size = 0;
  // tar-stream writes a header and each body piece as its own chunk: gathered into bigger ones,
  // the reader (a socket to the Engine, an upload) makes far fewer writes.
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  const output: Transform = new Transform({
    // The merge runs ahead of its reader (an Engine applying the layer, an upload): both sides busy at once.
    readableHighWaterMark: READ_AHEAD,
    transform(chunk: Buffer, _encoding, callback) {
      hash.update(chunk);
      size += chunk.length;
      pending.push(chunk);
      pendingBytes += chunk.length;
      if (pendingBytes < GATHER) return callback();
      const gathered = Buffer.concat(pending, pendingBytes);
      pending = [];
      pendingBytes = 0;
      callback(null, gathered);
    },
    flush(callback) {
      callback(null, pendingBytes ? Buffer.concat(pending, pendingBytes) : undefined);
    },
  });
  let resolveDone!: (value: { diffId: string; size: number }) => void;
  let rejectDone!: (error: unknown) => void;
  const done = new Promise<{ diffId: string; size: number }>((resolve, reject) => {
    resolveDone = resolve;
    rejectDone = reject;
  });
  const merger = new Merger(layers, options);
  const pack = loadTar().pack();
  // A merge error reaches the reader through `output`, `done` and `stats`.
  pack.on('error', () => undefined);
  pack.pipe(output as unknown as NodeJS.WritableStream);
  output.on('end', () => resolveDone({ diffId: `sha256:${hash.digest('hex')}`, size }));
  output.on('error', (error) => rejectDone(error));
  const stats = (async (): Promise<MergeStats> => {
    try {
      await merger.run(pack);
      pack.finalize();
    } catch (error) {
      rejectDone(error);
      pack.destroy(error as Error);
      output.destroy(error as Error);
      throw error;
    } finally {
      await merger.close();
    }
    const { diffId, size: written } = await done;
    return { ...merger.counts(), diffId, size: written };
  })();
  // Callers may await either one; neither must crash the process as an unhandled rejection.
  done.catch(() => undefined);
  stats.catch(() => undefined);
  return { stream: output as Readable, done, stats };
}

// What `seen` records for a path of the output.
const DIR = 1;
const IMPLICIT = 2;
const NONDIR = 3;
/** A directory only an entry left out needed (Docker's applier made it as a parent): written at the end. */
const IMPLICIT_HIDDEN = 4;
const dirLike = (seen: number | undefined) => seen === DIR || seen === IMPLICIT || seen === IMPLICIT_HIDDEN;

/** One version of a file (or symlink, fifo…) that hard links share, until it has an output name. */
class Node {
  output?: string;
  links: PendingLink[] = [];
  forward?: Node;
  /** This version was left out and its content skipped: a re-read of `layer` can copy it. */
  gone?: { layer: number; path: string };
}

interface PendingLink {
  name: string;
  header: Header;
  label: string;
}

function find(node: Node): Node {
  let root = node;
  while (root.forward) root = root.forward;
  while (node.forward && node.forward !== root) [node, node.forward] = [node.forward, root];
  return root;
}

/** Links waiting for `from` now wait for `into`. */
function join(from: Node, into: Node): Node {
  const a = find(from);
  const b = find(into);
  if (a === b) return b;
  b.links.push(...a.links);
  a.links = [];
  a.forward = b;
  return b;
}

/** A directory as Docker's applier makes a missing parent (MkdirAll 0755, root). */
const syntheticDir: Header = { name: '', type: 'directory', mode: 0o755, uid: 0, gid: 0, size: 0, mtime: new Date(0), linkname: '', uname: '', gname: '', devmajor: 0, devminor: 0 };

// Versions of paths within the layer being read: a directory, a version left out whose content
// was skipped, an output name (the regular file holding the content), or a node links wait on.
const DIR_VERSION = 0;
const GONE = 1;
type Version = typeof DIR_VERSION | typeof GONE | string | Node;

/** Which paths upper layers wrote, deleted or made opaque (a layer's own marks join after it). */
class Tree {
  readonly seen = new Map<string, number>();
  readonly tombstones = new Set<string>();
  readonly opaques = new Set<string>();

  /** Hidden by what upper layers wrote or deleted (not counting an upper entry at `name` itself). */
  hidden(name: string): boolean {
    if (this.tombstones.has(name)) return true;
    if (name !== '' && this.opaques.has('')) return true;
    for (const ancestor of ancestors(name)) {
      if (this.tombstones.has(ancestor) || this.opaques.has(ancestor) || this.seen.get(ancestor) === NONDIR) return true;
    }
    return false;
  }

  /** Whether an entry of a lower layer at `name` shows. */
  visible(name: string, isDir: boolean): boolean {
    if (this.hidden(name)) return false;
    const seen = this.seen.get(name);
    return seen === undefined || ((seen === IMPLICIT || seen === IMPLICIT_HIDDEN) && isDir);
  }

  claim(name: string, isDir: boolean): void {
    this.seen.set(name, isDir ? DIR : NONDIR);
    for (const ancestor of name === '' ? [] : [...ancestors(name), '']) {
      const seen = this.seen.get(ancestor);
      if (seen !== undefined && seen !== IMPLICIT_HIDDEN) break;
      this.seen.set(ancestor, IMPLICIT);
    }
  }

  /** An entry left out still made its parent directories when its layer was applied. */
  claimParents(name: string): void {
    for (const ancestor of ancestors(name)) {
      if (this.seen.has(ancestor)) break;
      if (!this.hidden(ancestor)) this.seen.set(ancestor, IMPLICIT_HIDDEN);
    }
  }

  absorb(tombstones: Set<string>, opaques: Set<string>): void {
    for (const path of tombstones) this.tombstones.add(path);
    for (const path of opaques) this.opaques.add(path);
  }
}

/** One layer's marks and versions while it is read. */
interface LayerState {
  index: number;
  label: string;
  tombstones: Set<string>;
  opaques: Set<string>;
  versions: Map<string, Version>;
  /** Links of this layer whose target has not shown up in it (yet). */
  waiting: Map<string, Node>;
  goneNodes: Node[];
}

class Merger {
  private readonly keep: number;
  private readonly tree = new Tree();
  /** Links of upper layers waiting for their target's version in a lower layer, by target path. */
  private readonly pending = new Map<string, Node>();
  private readonly whiteoutCandidates = new Set<string>();
  private readonly opaqueCandidates = new Set<string>();
  private crosslinker: Crosslinker | null = null;
  private writer!: EntryWriter;
  private pack!: Pack;
  private bytesRead = 0;
  private entriesWritten = 0;
  private filesDropped = 0;
  private bytesDropped = 0;

  constructor(
    private readonly layers: Layer[],
    private readonly options: MergeOptions,
  ) {
    this.keep = Math.max(0, Math.min(options.keep ?? 0, layers.length));
  }

  counts() {
    return {
      bytesRead: this.bytesRead,
      entriesWritten: this.entriesWritten,
      filesDropped: this.filesDropped,
      bytesDropped: this.bytesDropped,
      linksMade: this.crosslinker?.linksMade ?? 0,
      bytesSavedByLinks: this.crosslinker?.bytesSaved ?? 0,
    };
  }

  async close(): Promise<void> {
    await this.crosslinker?.close();
  }

  async run(pack: Pack): Promise<void> {
    this.pack = pack;
    this.writer = { write: (header, body) => this.writeEntry(header, body) };
    const crosslink = this.options.crosslink ?? true;
    if (crosslink !== false) {
      this.crosslinker = new Crosslinker(this.writer, { prefixes: crosslink === true ? undefined : crosslink.map(normalizeName) });
    }
    for (let index = this.layers.length - 1; index >= this.keep; index--) await this.mergeLayer(index);
    // Directories no written entry makes: made by entries left out, or made again after a delete.
    const dirs: string[] = [];
    for (const [path, seen] of this.tree.seen) {
      if (path !== '' && (seen === IMPLICIT_HIDDEN || (this.keep > 0 && seen === IMPLICIT && this.tree.hidden(path)))) dirs.push(path);
    }
    const kept = this.keep > 0 && (this.pending.size > 0 || this.whiteoutCandidates.size > 0 || this.opaqueCandidates.size > 0 || dirs.length > 0) ? await this.scanKept() : null;
    for (const path of dirs) {
      // A directory the kept layers show (and the merged ones did not delete) stays as it is.
      if (kept && dirLike(kept.seen.get(path)) && !this.tree.hidden(path)) continue;
      await this.write(headerForPack(syntheticDir, path));
    }
    for (const [target, node] of this.pending) {
      const link = find(node).links[0];
      if (link) throw failure(`${link.label}: hard link ${link.name} points to ${target}, which no layer has`);
    }
  }

  private label(index: number): string {
    return `layer ${index + 1} (${this.layers[index].diffId})`;
  }

  private async open(index: number): Promise<Readable> {
    const { Transform } = require('node:stream') as typeof import('node:stream');
    const source = await this.layers[index].open();
    const counter = new Transform({
      transform: (chunk: Buffer, _encoding, callback) => {
        this.bytesRead += chunk.length;
        this.options.onProgress?.(this.bytesRead);
        callback(null, chunk);
      },
    });
    source.on('error', (error) => counter.destroy(error));
    counter.on('close', () => source.destroy());
    return source.pipe(counter);
  }

  private async entries(index: number): Promise<AsyncGenerator<LayerEntry>> {
    return readEntries(await this.open(index), { label: this.label(index) });
  }

  private layerState(index: number): LayerState {
    return { index, label: this.label(index), tombstones: new Set(), opaques: new Set(), versions: new Map(), waiting: new Map(), goneNodes: [] };
  }

  private dropped(entry: LayerEntry): boolean {
    return entry.kind !== 'whiteout' && entry.kind !== 'opaque' && (this.options.drop?.(entry.name) ?? false);
  }

  private async mergeLayer(index: number): Promise<void> {
    const layer = this.layerState(index);
    for await (const entry of await this.entries(index)) {
      if (this.dropped(entry)) continue;
      if (entry.kind === 'whiteout') layer.tombstones.add(entry.target);
      else if (entry.kind === 'opaque') layer.opaques.add(entry.target);
      if (entry.kind === 'whiteout' || entry.kind === 'opaque') this.tree.claimParents(entry.name);
      else if (layer.versions.has(entry.name)) this.countDropped(entry);
      else if (entry.kind === 'dir') await this.dirEntry(layer, entry);
      else if (entry.kind === 'link') await this.linkEntry(layer, entry);
      else await this.contentEntry(layer, entry);
    }
    await this.copyGone(layer);
    this.checkPending(layer);
    for (const [target, node] of layer.waiting) {
      const upper = this.pending.get(target);
      this.pending.set(target, upper ? join(upper, node) : node);
    }
    if (this.keep > 0) this.markCandidates(layer);
    this.tree.absorb(layer.tombstones, layer.opaques);
  }

  private async dirEntry(layer: LayerState, entry: LayerEntry): Promise<void> {
    const waiting = this.pending.get(entry.name) ?? layer.waiting.get(entry.name);
    const link = waiting && find(waiting).links[0];
    if (link) throw failure(`${link.label}: hard link ${link.name} points to directory ${entry.name}`);
    layer.versions.set(entry.name, DIR_VERSION);
    if (this.tree.visible(entry.name, true)) {
      this.tree.claim(entry.name, true);
      await this.write(headerForPack(entry.header, entry.name));
    } else this.tree.claimParents(entry.name);
  }

  /** A regular file, symlink, fifo or device: written, or left out (and copied for links that need it). */
  private async contentEntry(layer: LayerState, entry: LayerEntry): Promise<void> {
    const node = this.takeWaiting(layer, entry.name);
    if (this.tree.visible(entry.name, false)) {
      this.tree.claim(entry.name, false);
      const output = await this.writeContent(entry.header, entry.name, entry.body);
      layer.versions.set(entry.name, output);
      if (node) await this.materialize(node, output);
      return;
    }
    this.leftOut(layer, entry);
    const root = node && find(node);
    if (root && root.links.length > 0) {
      layer.versions.set(entry.name, await this.copy(root, entry.header, entry.body));
    } else if (root) {
      root.gone = { layer: layer.index, path: entry.name };
      layer.goneNodes.push(root);
      layer.versions.set(entry.name, root);
    } else {
      layer.versions.set(entry.name, GONE);
    }
  }

  private async linkEntry(layer: LayerState, entry: LayerEntry): Promise<void> {
    const { name, target } = entry;
    if (target === name) throw failure(`${layer.label}: hard link ${name} points to itself`);
    let resolved = this.resolve(layer, target);
    const waiting = this.takeWaiting(layer, name);
    const visible = this.tree.visible(name, false);
    if (visible) {
      this.tree.claim(name, false);
      const link: PendingLink = { name, header: entry.header, label: layer.label };
      if (typeof resolved === 'string') await this.writeLink(link, resolved);
      else resolved.links.push(link);
    } else this.leftOut(layer, entry);
    if (waiting) {
      if (typeof resolved === 'string') await this.materialize(waiting, resolved);
      else resolved = join(waiting, resolved);
    }
    layer.versions.set(name, resolved);
  }

  /** What a hard link in this layer to `target` gets: an output name, or a node to wait on. */
  private resolve(layer: LayerState, target: string): string | Node {
    const version = layer.versions.get(target);
    if (version === DIR_VERSION) throw failure(`${layer.label}: a hard link points to directory ${target}`);
    if (typeof version === 'string') return version;
    if (version === GONE) {
      const node = new Node();
      node.gone = { layer: layer.index, path: target };
      layer.versions.set(target, node);
      layer.goneNodes.push(node);
      return node;
    }
    if (version instanceof Node) {
      const root = find(version);
      return root.output ?? root;
    }
    let node = layer.waiting.get(target);
    if (!node) layer.waiting.set(target, (node = new Node()));
    return find(node);
  }

  /** Links (of upper layers, or earlier in this one) that wait for this layer's version of `name`. */
  private takeWaiting(layer: LayerState, name: string): Node | undefined {
    const upper = this.pending.get(name);
    const here = layer.waiting.get(name);
    this.pending.delete(name);
    layer.waiting.delete(name);
    if (upper && here) return join(upper, here);
    return upper ?? here;
  }

  private leftOut(layer: LayerState, entry: LayerEntry): void {
    this.countDropped(entry);
    this.tree.claimParents(entry.name);
    // A non-directory under an upper directory replaced whatever the layers below had there.
    if (dirLike(this.tree.seen.get(entry.name)) && !this.tree.hidden(entry.name)) layer.tombstones.add(entry.name);
  }

  private countDropped(entry: LayerEntry): void {
    if (entry.kind === 'dir') return;
    this.filesDropped++;
    if (entry.kind === 'file') this.bytesDropped += entry.header.size ?? 0;
  }

  /** Versions of this layer left out before links needed them: one re-read copies them all. */
  private async copyGone(layer: LayerState): Promise<void> {
    const wanted = new Map<string, Node>();
    for (const node of layer.goneNodes) {
      const root = find(node);
      if (root.output === undefined && root.links.length > 0 && root.gone) wanted.set(root.gone.path, root);
    }
    if (wanted.size === 0) return;
    const read = new Set<string>();
    for await (const entry of await this.entries(layer.index)) {
      if (entry.kind === 'whiteout' || entry.kind === 'opaque' || this.dropped(entry) || read.has(entry.name)) continue;
      read.add(entry.name);
      const node = wanted.get(entry.name);
      if (!node || entry.kind === 'link' || entry.kind === 'dir') continue;
      await this.copy(node, entry.header, entry.body);
      wanted.delete(entry.name);
      if (wanted.size === 0) break;
    }
    const [path] = wanted.keys();
    if (path !== undefined) throw failure(`${layer.label}: entry ${path} changed when the layer was read again`);
  }

  /** Upper links still waiting fail when this layer deletes or replaces their target. */
  private checkPending(layer: LayerState): void {
    if (this.pending.size === 0) return;
    for (const [target, node] of this.pending) {
      const link = find(node).links[0];
      if (!link) continue;
      let hidden = layer.tombstones.has(target) || (target !== '' && layer.opaques.has(''));
      for (const ancestor of ancestors(target)) {
        if (hidden) break;
        const version = layer.versions.get(ancestor);
        hidden = layer.tombstones.has(ancestor) || layer.opaques.has(ancestor) || (version !== undefined && version !== DIR_VERSION);
      }
      if (hidden) throw failure(`${link.label}: hard link ${link.name} points to ${target}, which ${layer.label} deletes`);
    }
  }

  /** Partial merge: which of this layer's whiteouts still matter (written if the kept layers have the path). */
  private markCandidates(layer: LayerState): void {
    for (const path of layer.tombstones) {
      if (this.tree.hidden(path)) continue;
      const seen = this.tree.seen.get(path);
      if (seen === NONDIR) continue;
      if (dirLike(seen)) this.opaqueCandidates.add(path);
      else this.whiteoutCandidates.add(path);
    }
    for (const dir of layer.opaques) {
      if (dir !== '' && this.tree.hidden(dir)) continue;
      if (this.tree.opaques.has(dir) || this.tree.seen.get(dir) === NONDIR) continue;
      this.opaqueCandidates.add(dir);
    }
  }

  /**
   * Reads the kept layers (top → bottom, their own whiteouts applied) to learn what exists below
   * the merged layer: whiteouts are written for paths that exist there, and links still waiting
   * find their target there (staying links when it shows in the final image, else copied).
   */
  private async scanKept(): Promise<Tree> {
    const kept = new Tree();
    for (let index = this.keep - 1; index >= 0; index--) {
      const layer = this.layerState(index);
      for await (const entry of await this.entries(index)) {
        if (entry.kind === 'whiteout') layer.tombstones.add(entry.target);
        else if (entry.kind === 'opaque') layer.opaques.add(entry.target);
        else if (!layer.versions.has(entry.name)) await this.keptEntry(kept, layer, entry);
        if (entry.kind === 'whiteout' || entry.kind === 'opaque') kept.claimParents(entry.name);
      }
      await this.copyGone(layer);
      this.checkPending(layer);
      for (const [target, node] of layer.waiting) {
        const upper = this.pending.get(target);
        this.pending.set(target, upper ? join(upper, node) : node);
      }
      kept.absorb(layer.tombstones, layer.opaques);
    }
    for (const path of this.whiteoutCandidates) {
      if (kept.seen.has(path)) await this.writeMarker(whiteoutName(path));
    }
    for (const dir of this.opaqueCandidates) {
      const below = kept.seen.get(dir);
      if (dirLike(below)) await this.writeMarker(opaqueName(dir));
    }
    return kept;
  }

  private async keptEntry(kept: Tree, layer: LayerState, entry: LayerEntry): Promise<void> {
    const isDir = entry.kind === 'dir';
    const shows = kept.visible(entry.name, isDir);
    if (shows) kept.claim(entry.name, isDir);
    else kept.claimParents(entry.name);
    const waiting = this.takeWaiting(layer, entry.name);
    const root = waiting && find(waiting);
    if (isDir) {
      if (root?.links[0]) throw failure(`${root.links[0].label}: hard link ${root.links[0].name} points to directory ${entry.name}`);
      layer.versions.set(entry.name, DIR_VERSION);
      return;
    }
    // In the final image when nothing merged above writes, deletes or hides it.
    const final = shows && !this.tree.hidden(entry.name) && !this.tree.seen.has(entry.name);
    if (final) {
      layer.versions.set(entry.name, entry.name);
      if (root) await this.materialize(root, entry.name);
      return;
    }
    if (entry.kind === 'link') {
      // Not in the final image: links to it follow it to its own target.
      let resolved = this.resolve(layer, entry.target);
      if (root) {
        if (typeof resolved === 'string') await this.materialize(root, resolved);
        else resolved = join(root, resolved);
      }
      layer.versions.set(entry.name, resolved);
      return;
    }
    if (root && root.links.length > 0) layer.versions.set(entry.name, await this.copy(root, entry.header, entry.body));
    else layer.versions.set(entry.name, GONE);
  }

  /** The first waiting link becomes a copy of this version; the others link to it. Returns the copy's output name. */
  private async copy(node: Node, header: Header, body: AsyncIterable<Buffer>): Promise<string> {
    const root = find(node);
    const first = root.links.shift()!;
    const output = await this.writeContent(header, first.name, body);
    await this.materialize(root, output);
    return output;
  }

  private async materialize(node: Node, output: string): Promise<void> {
    const root = find(node);
    root.output = output;
    root.gone = undefined;
    const links = root.links;
    root.links = [];
    for (const link of links) await this.writeLink(link, output);
  }

  private async writeLink(link: PendingLink, output: string): Promise<void> {
    await this.write(headerForPack(link.header, link.name, { type: 'link', linkname: output, size: 0 }));
  }

  /** Writes a version's entry under `name`: a regular file through the crosslinker. Returns where its content lives. */
  private async writeContent(header: Header, name: string, body: AsyncIterable<Buffer>): Promise<string> {
    const out = headerForPack(header, name);
    if (out.type !== 'file') {
      await this.write(out);
      return name;
    }
    if (this.crosslinker) {
      this.entriesWritten++;
      return this.crosslinker.file(out, name, body);
    }
    await this.write(out, body);
    return name;
  }

  private async writeMarker(name: string): Promise<void> {
    await this.write({ name, type: 'file', mode: 0o600, uid: 0, gid: 0, size: 0, mtime: new Date(0), linkname: '', uname: '', gname: '', devmajor: 0, devminor: 0 });
  }

  private async write(header: Header, body?: Buffer | AsyncIterable<Buffer>): Promise<void> {
    this.entriesWritten++;
    await this.writeEntry(header, body);
  }

  private writeEntry(header: Header, body?: Buffer | AsyncIterable<Buffer>): Promise<void> {
    const pack = this.pack;
    return new Promise<void>((resolve, reject) => {
      if (body === undefined || Buffer.isBuffer(body) || header.type !== 'file') {
        const content = header.type === 'file' ? ((body as Buffer | undefined) ?? Buffer.alloc(0)) : undefined;
        if (content) pack.entry(header, content, (error) => (error ? reject(error) : resolve()));
        else pack.entry(header, (error) => (error ? reject(error) : resolve()));
        return;
      }
      const sink = pack.entry(header, (error) => (error ? reject(error) : resolve()));
      void (async () => {
        for await (const chunk of body) {
          if (!sink.write(chunk)) await new Promise<void>((drained) => sink.once('drain', () => drained()));
        }
        (sink as unknown as { end(): void }).end();
      })().catch((error: unknown) => {
        sink.destroy(error as Error);
        reject(error);
      });
    });
  }
}
