import type { Readable, Writable } from 'node:stream';
import { failure, imagewrightVersion, shellQuote, shortId, usageError } from '@imagewright/core';
import type { Engine } from '@imagewright/docker';
import type { ImageConfig, RunConfig } from '@imagewright/image';
import type { OsInventory, PackageChange } from '@imagewright/inventory';
import { appendLedger, checkLedger, type LedgerEntry } from './ledger';
import { metadataYaml, type PatchMetadata, type PatchSource } from './metadata';

/**
 * patch-image's frame, safe by construction: the patch script runs as root in a container of the
 * source, with its record in /opt/patches/<source-id>/; only an exit 0 is committed; the result
 * keeps the source's run config (checked, not assumed); a check (environment tests) may still stop
 * it; the destination tag moves last, after its previous image got `<repo>:pre-patch-<short id>`.
 * The container is always removed, and SIGINT/SIGTERM at any point leave the tags as they were.
 */

export const PATCHES_DIR = '/opt/patches';
/** Files of the record that a script or extra file may not be named. */
const RECORD_FILES = ['metadata.yaml', 'source-inspect.json', 'patch.log'];

export interface PatchFile {
  name: string;
  body: Buffer;
  /** 0o644 by default; the script is always 0o755. */
  mode?: number;
}

export interface PatchRequest {
  /** The command, for the ledger and the history entry (patch-os, patch-pip…). */
  command: string;
  /** The source image as the user named it (a tag, an ID, or a transport). */
  source: string;
  /** The tag to move (default: the source's tag). */
  dest?: string;
  /** The script, or how to choose it from the source's OS (patch-os: apt or apk). */
  script: PatchFile | ((os: OsInventory) => PatchFile);
  /** Put beside the script (wheels, a CA bundle). */
  files?: PatchFile[];
  author: string;
  description: string;
  env: NodeJS.ProcessEnv;
  /** The script's combined output, streamed (it also goes to patch.log). */
  log: Writable;
  /** Progress lines ("committing…"). */
  say?(line: string): void;
  /** Read the OS package database before and after (patch-os, patch-apt). */
  inventory?: boolean;
  /** Runs on the committed, untagged image; throws to stop the tag moving (patch-pip's tests). */
  check?(id: string): Promise<void>;
  /** deployments/<name>/patches.yaml, appended to on success. */
  ledger?: string;
}

export interface PatchResult {
  source: PatchSource;
  /** The patched image. */
  id: string;
  tag: string;
  /** Where the image the tag pointed at before went. */
  backup?: string;
  previous?: string;
  patchDir: string;
  script: { name: string; sha256: string };
  exitStatus: number;
  packages?: PackageChange[];
  seconds: number;
}

interface Inspect {
  Id: string;
  RepoTags?: string[] | null;
  RepoDigests?: string[] | null;
  Config?: RunConfig | null;
  RootFS?: { Layers?: string[] };
}

/** The fields of the run config a patch keeps: compared after the commit. */
export const KEPT_FIELDS = ['Cmd', 'Entrypoint', 'User', 'WorkingDir', 'Env', 'Labels', 'ExposedPorts', 'Volumes', 'StopSignal', 'Healthcheck', 'OnBuild', 'Shell'] as const;

/** A script or file name as it goes into the patch folder: a plain file name. */
export function checkFileName(name: string, input: string): void {
  if (!name || name === '.' || name === '..' || name.includes('/') || name.includes('\0')) {
    throw usageError(`${input} ${JSON.stringify(name)}: allowed a plain file name`);
  }
  if (RECORD_FILES.includes(name)) throw usageError(`${input} ${JSON.stringify(name)}: that name is the patch record's own; allowed any other file name`);
}

/** The author as docker commit takes it: an email, or `Name <email>`. */
export function checkAuthor(author: string): void {
  const email = String.raw`[^\s<>@]+@[^\s<>@]+`;
  if (!new RegExp(`^${email}$`).test(author) && !new RegExp(`^[^<>\n]+ <${email}>$`).test(author)) {
    throw usageError(`--author ${JSON.stringify(author)}: allowed an email address (or "Name <email>")`);
  }
}


/** The image model, loaded on first use (bins stay light). */
const imageModel = () => require('@imagewright/image') as typeof import('@imagewright/image');

function engineError(what: string, error: unknown): Error {
  const { engineMessage } = require('@imagewright/docker') as typeof import('@imagewright/docker');
  return failure(`${what}: ${engineMessage(error)}`, error);
}

/** docker:// is pulled when missing (pull → patch); archives are loaded, untagged. */
async function sourceImage(engine: Engine, text: string, env: NodeJS.ProcessEnv, log: Writable): Promise<{ info: Inspect; ref: string; tagged?: string }> {
  const image = imageModel();
  const location = image.parseLocation(text, '--source');
  const ref = await image.engineRef(text, { env, input: '--source', engine: async () => engine });
  const inspect = async () => (await engine.getImage(ref).inspect()) as unknown as Inspect;
  let info: Inspect;
  try {
    info = await inspect();
  } catch (error) {
    if ((error as { statusCode?: number }).statusCode !== 404) throw engineError(`--source ${text}`, error);
    if (location.transport !== 'registry') throw failure(`--source ${text}: no such image in the Engine; pull it first (image-pull, or give docker://REF)`);
    const { pullImage } = require('@imagewright/docker') as typeof import('@imagewright/docker');
    await pullImage(engine, ref, { log }).catch((e: unknown) => {
      throw engineError(`pull of ${ref}`, e);
    });
    info = await inspect();
  }
  // A name, not an ID or digest: its tag is the default destination.
  const named = (location.transport === 'engine' || location.transport === 'registry') && !/^(sha256:)?[0-9a-f]{12,64}$/.test(ref) && !ref.includes('@');
  return { info, ref, tagged: named ? image.tagReference(ref, '--source') : undefined };
}

function destination(request: PatchRequest, source: { info: Inspect; tagged?: string }): string {
  const { tagReference } = imageModel();
  if (request.dest !== undefined) return tagReference(request.dest, '--tag');
  if (source.tagged) return source.tagged;
  const tags = (source.info.RepoTags ?? []).filter((t) => !t.includes('<none>'));
  if (tags.length === 1) return tags[0];
  throw usageError(`--source ${request.source}: ${tags.length ? `has several tags (${tags.join(', ')})` : 'has no tag'}; allowed --tag DEST to name the tag to move`);
}

/** The record and the script, as a tar to put at / (parents made by the Engine). */
async function recordTar(dir: string, files: PatchFile[]): Promise<Buffer> {
  const tar = require('tar-stream') as typeof import('tar-stream');
  const pack = tar.pack();
  const mtime = new Date();
  const chunks: Buffer[] = [];
  pack.on('data', (c: unknown) => {
    chunks.push(c as Buffer);
  });
  const ended = new Promise<void>((resolve, reject) => {
    pack.on('end', resolve);
    pack.on('error', reject);
  });
  const root = dir.replace(/^\//, '');
  pack.entry({ name: `${root}/`, type: 'directory', mode: 0o755, mtime, uid: 0, gid: 0 });
  for (const f of files) pack.entry({ name: `${root}/${f.name}`, mode: f.mode ?? 0o644, mtime, uid: 0, gid: 0 }, f.body);
  pack.finalize();
  await ended;
  return Buffer.concat(chunks);
}

async function putFiles(container: import('dockerode').Container, dir: string, files: PatchFile[]): Promise<void> {
  try {
    await container.putArchive(await recordTar(dir, files), { path: '/' });
  } catch (error) {
    throw engineError(`writing ${dir} into the patch container`, error);
  }
}

/** The inventory paths from the container's file system (docker cp), for the package database. */
async function containerInventory(container: import('dockerode').Container) {
  const inventory = require('@imagewright/inventory') as typeof import('@imagewright/inventory');
  const { readEntries } = imageModel();
  const files = new Map<string, import('@imagewright/image').ImageFile>();
  for (const path of inventory.INVENTORY_PATHS) {
    let tar: Readable;
    try {
      tar = (await container.getArchive({ path: `/${path}` })) as unknown as Readable;
    } catch (error) {
      if ((error as { statusCode?: number }).statusCode === 404) continue;
      throw engineError(`reading /${path} in the patch container`, error);
    }
    // docker cp names entries after the path's last component: put them back under its parent.
    const parent = path.includes('/') ? path.slice(0, path.lastIndexOf('/') + 1) : '';
    for await (const entry of readEntries(tar)) {
      const name = parent + entry.name;
      if (entry.kind !== 'file' && entry.kind !== 'symlink') continue;
      const chunks: Buffer[] = [];
      if (entry.kind === 'file') for await (const c of entry.body) chunks.push(c);
      files.set(name, {
        path: name,
        kind: entry.kind,
        mode: (entry.header.mode ?? 0) & 0o7777,
        uid: entry.header.uid ?? 0,
        gid: entry.header.gid ?? 0,
        layer: 0,
        ...(entry.kind === 'file' ? { content: Buffer.concat(chunks) } : { linkname: entry.header.linkname ?? '' }),
      });
    }
  }
  return inventory.inventoryOf(files);
}

/** The OS and packages of an Engine image, from a container that is created, read and removed, never started. */
export async function engineInventory(engine: Engine, image: string): Promise<OsInventory> {
  let container: import('dockerode').Container;
  try {
    container = await engine.createContainer({ Image: image, Cmd: ['/imagewright-inventory'], Entrypoint: [] });
  } catch (error) {
    throw engineError(`reading the package database of ${image}`, error);
  }
  try {
    return await containerInventory(container);
  } finally {
    await container.remove({ force: true }).catch(() => undefined);
  }
}

/** The fields of KEPT_FIELDS where `result` differs from `source` (null, absent and empty alike). */
export function configDrift(source: RunConfig, result: RunConfig): string[] {
  const norm = (v: unknown) => {
    if (v === null || v === undefined || v === '') return null;
    if (Array.isArray(v) && v.length === 0) return null;
    if (typeof v === 'object' && !Array.isArray(v) && Object.keys(v as object).length === 0) return null;
    return JSON.stringify(v, Object.keys((v as object) ?? {}).sort());
  };
  return KEPT_FIELDS.filter((f) => norm(source[f]) !== norm(result[f]));
}

/**
 * Signals during a patch: the container is killed and removed, an image made so far removed, and
 * the process exits 130/143. During the tag move they wait, then undo it.
 */
class Interrupts {
  private cleanups: (() => Promise<void>)[] = [];
  private critical = false;
  private pending: NodeJS.Signals | undefined;
  private undo: (() => Promise<void>) | undefined;
  private readonly onSignal = (signal: NodeJS.Signals) => {
    if (this.critical) {
      this.pending = signal;
      return;
    }
    void this.stop(signal);
  };
  constructor() {
    process.on('SIGINT', this.onSignal);
    process.on('SIGTERM', this.onSignal);
  }
  onStop(cleanup: () => Promise<void>): void {
    this.cleanups.push(cleanup);
  }
  private async stop(signal: NodeJS.Signals): Promise<never> {
    this.release();
    if (this.undo) await this.undo().catch(() => undefined);
    for (const cleanup of this.cleanups.reverse()) await cleanup().catch(() => undefined);
    process.exit(signal === 'SIGINT' ? 130 : 143);
  }
  /** Runs `work` with signals held; `undo` reverses it if one came meanwhile. */
  async guarded<T>(work: () => Promise<T>, undo: (result: T) => Promise<void>): Promise<T> {
    this.critical = true;
    try {
      const result = await work();
      this.undo = () => undo(result);
      return result;
    } finally {
      this.critical = false;
      if (this.pending) await this.stop(this.pending);
      this.undo = undefined;
    }
  }
  release(): void {
    process.off('SIGINT', this.onSignal);
    process.off('SIGTERM', this.onSignal);
  }
}

export async function applyPatch(engine: Engine, request: PatchRequest): Promise<PatchResult> {
  const started = Date.now();
  const docker = require('@imagewright/docker') as typeof import('@imagewright/docker');
  const say = request.say ?? (() => undefined);
  for (const f of request.files ?? []) checkFileName(f.name, 'file');
  checkAuthor(request.author);
  if (!request.description.trim()) throw usageError('--description is empty: allowed a text saying what the patch does');
  if (request.ledger) checkLedger(request.ledger);

  const interrupts = new Interrupts();
  let containerId: string | undefined;
  let made: string | undefined;
  const removeContainer = async () => {
    if (containerId) await engine.getContainer(containerId).remove({ force: true }).catch(() => undefined);
    containerId = undefined;
  };
  const removeMade = async () => {
    if (made) await engine.getImage(made).remove({ noprune: false }).catch(() => undefined);
    made = undefined;
  };
  interrupts.onStop(removeMade);
  interrupts.onStop(removeContainer);
  try {
    const src = await sourceImage(engine, request.source, request.env, request.log);
    const dest = destination(request, src);
    const info = src.info;
    const runConfig = info.Config ?? {};
    const patchDir = `${PATCHES_DIR}/${shortId(info.Id)}`;
    const source: PatchSource = { image: request.source, id: info.Id, repoDigests: info.RepoDigests ?? [] };
    const scriptFile = typeof request.script === 'function' ? request.script(await engineInventory(engine, info.Id)) : request.script;
    checkFileName(scriptFile.name, 'SCRIPT');
    const script = { name: scriptFile.name, sha256: imageModel().sha256Of(scriptFile.body).slice('sha256:'.length) };
    const metadata: PatchMetadata = {
      author: request.author,
      description: request.description,
      time: new Date().toISOString(),
      source,
      script,
      ...(request.files?.length ? { files: request.files.map((f) => f.name) } : {}),
      imagewright: imagewrightVersion(),
      exitStatus: -1,
    };

    // The container's config differs from the source's only where docker commit's merge cannot
    // leak it into the image: no labels, env or workdir of ours; root only when the image is not.
    const entrypoint = runConfig.Entrypoint ?? [];
    const shebang = scriptFile.body.subarray(0, 2).toString('latin1') === '#!';
    // One pipe for both streams: patch.log keeps the order the script wrote in (two pipes race).
    const wrapper = `cd ${shellQuote(patchDir)} && exec ${shebang ? '' : '/bin/sh '}${shellQuote(`./${script.name}`)} 2>&1`;
    const user = runConfig.User && !/^(root|0)(:(root|0))?$/.test(runConfig.User) ? '0:0' : undefined;
    const flags = {
      ...docker.emptyRunFlags(),
      name: `imagewright-patch-${shortId(info.Id)}-${process.pid}`,
      pull: 'never' as const,
      ...(user ? { user } : {}),
      ...(entrypoint.length ? { entrypoint: '/bin/sh' } : {}),
    };
    const cmd = entrypoint.length ? ['-c', wrapper] : ['/bin/sh', '-c', wrapper];

    const logChunks: Buffer[] = [];
    const { PassThrough } = require('node:stream') as typeof import('node:stream');
    const output = new PassThrough();
    output.on('data', (chunk: Buffer) => {
      logChunks.push(chunk);
      request.log.write(chunk);
    });
    let before: import('@imagewright/inventory').OsInventory | undefined;
    say(`patching ${request.source} (${shortId(info.Id)}) with ${script.name} in a container`);
    let status: number;
    try {
      status = await docker.runContainer(engine, {
        image: info.Id,
        cmd,
        flags,
        stdout: output,
        stderr: output,
        interactive: false,
        tty: false,
        forwardSignals: false,
        onCreate: (id) => (containerId = id),
        async beforeStart(container) {
          await putFiles(container, patchDir, [
            { name: 'metadata.yaml', body: Buffer.from(metadataYaml(metadata)) },
            { name: 'source-inspect.json', body: Buffer.from(`${JSON.stringify([info], null, 4)}\n`) },
            { name: script.name, body: scriptFile.body, mode: 0o755 },
            ...(request.files ?? []),
          ]);
          if (request.inventory) before = await containerInventory(container);
        },
      });
    } catch (error) {
      const message = (error as Error).message;
      throw failure(`the patch script could not run in ${request.source}: ${message}`, error);
    }
    const log = Buffer.concat(logChunks);
    metadata.exitStatus = status;
    if (status !== 0) {
      // Its output has been shown as it ran.
      throw failure(`${script.name} exited ${status} in ${request.source}: nothing committed, ${dest} unchanged`);
    }
    const container = engine.getContainer(containerId!);
    await putFiles(container, patchDir, [
      { name: 'metadata.yaml', body: Buffer.from(metadataYaml(metadata)) },
      { name: 'patch.log', body: log },
    ]);
    const after = request.inventory ? await containerInventory(container) : undefined;

    say('committing the patched container');
    const id = await commitPatch(engine, container, info, request, script.name, (image) => (made = image));
    await removeContainer();
    if (request.check) {
      say(`checking ${shortId(id)}`);
      await request.check(id);
    }

    const previous = await docker.imageIdOf(engine, dest);
    const backupTag = previous ? `pre-patch-${shortId(previous)}` : undefined;
    const packages = before && after ? (require('@imagewright/inventory') as typeof import('@imagewright/inventory')).diffPackages(before.packages, after.packages) : undefined;
    const { promotion } = await interrupts.guarded(
      async () => {
        let undoLedger: (() => void) | undefined;
        if (request.ledger) {
          const entry: LedgerEntry = {
            time: metadata.time,
            command: request.command,
            author: request.author,
            description: request.description,
            script,
            source,
            result: { tag: dest, id, ...(previous && previous !== id ? { backup: `${docker.splitRef(dest)[0]}:${backupTag}` } : {}) },
            ...(packages ? { packages } : {}),
          };
          undoLedger = appendLedger(request.ledger, entry);
        }
        return { promotion: await docker.promoteTag(engine, id, dest, backupTag), undoLedger };
      },
      async ({ promotion: moved, undoLedger }) => {
        // Interrupted while the tag moved: put everything back.
        const [repo, tag] = docker.splitRef(dest);
        if (moved.previous) await engine.getImage(moved.previous).tag({ repo, tag });
        else await engine.getImage(dest).remove({ noprune: true }).catch(() => undefined);
        if (moved.backup) await engine.getImage(moved.backup).remove({ noprune: true }).catch(() => undefined);
        undoLedger?.();
      },
    );
    made = undefined;
    return {
      source,
      id,
      tag: dest,
      ...(promotion.backup ? { backup: promotion.backup, previous: promotion.previous } : {}),
      patchDir,
      script,
      exitStatus: status,
      ...(packages ? { packages } : {}),
      seconds: (Date.now() - started) / 1000,
    };
  } finally {
    await removeContainer();
    await removeMade();
    interrupts.release();
  }
}

/**
 * docker commit with the source's run config as the new config. The Engine fills the config's
 * empty fields from the container's, so an image with neither Entrypoint nor Cmd would get the
 * patch wrapper as its command: that case gets its exact config instead (the source's config plus
 * the layer, loaded as metadata). Either way the result is checked against the source.
 */
async function commitPatch(
  engine: Engine,
  container: import('dockerode').Container,
  info: Inspect,
  request: PatchRequest,
  scriptName: string,
  onMade: (id: string) => void,
): Promise<string> {
  const runConfig = info.Config ?? {};
  let committed: string;
  try {
    // The query says who and why; the body is the new image's run config (docker-modem sends _body as it is).
    const query = { container: container.id, author: request.author, comment: request.description, pause: false };
    committed = ((await container.commit({ _query: query, _body: runConfig } as never)) as unknown as { Id: string }).Id;
  } catch (error) {
    throw engineError('docker commit of the patch container', error);
  }
  onMade(committed);
  const result = (await engine.getImage(committed).inspect()) as unknown as Inspect;
  const sourceLayers = info.RootFS?.Layers ?? [];
  const layers = result.RootFS?.Layers ?? [];
  if (layers.length !== sourceLayers.length + 1 || sourceLayers.some((l, i) => l !== layers[i])) {
    throw failure(`the committed image ${shortId(committed)} does not have the source's layers plus one`);
  }
  const drift = configDrift(runConfig, result.Config ?? {});
  if (drift.length === 0) return committed;
  const noCommand = !(runConfig.Entrypoint ?? []).length && !(runConfig.Cmd ?? []).length;
  if (!noCommand) throw failure(`the committed image changed ${drift.join(', ')} of the source: not tagged`);

  const image = imageModel();
  const opened = await image.openImage(`docker-daemon:${info.Id}`, { env: request.env, input: '--source' });
  let sourceConfig: ImageConfig;
  try {
    sourceConfig = await opened.config();
  } finally {
    await opened.close();
  }
  const config = image.appendLayer(sourceConfig, {
    diffId: layers[layers.length - 1],
    created: new Date(),
    createdBy: `${request.command} ${scriptName}`,
    author: request.author,
    comment: request.description,
  });
  const loaded = await image.loadConfig(engine, image.serializeConfig(config), request.source);
  onMade(loaded.id);
  await engine.getImage(committed).remove({ noprune: true }).catch(() => undefined);
  const check = (await engine.getImage(loaded.id).inspect()) as unknown as Inspect;
  const left = configDrift(runConfig, check.Config ?? {});
  if (left.length) throw failure(`the patched image changed ${left.join(', ')} of the source: not tagged`);
  return loaded.id;
}
