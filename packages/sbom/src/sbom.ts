import type { Image, ImageFile } from '@imagewright/image';
import type { Distro, OsPackage } from '@imagewright/inventory';
import { type PackageType, purlOf } from './purl';
import { apkOwnedFiles, DPKG_LIST, dpkgListPaths, environmentOf, parseCondaMeta, parsePythonMetadata, recordKindOf } from './records';

/** The layer a package came with: its index (bottom → top, 0-based) and diffId. */
export interface SbomLayer {
  index: number;
  diffId: string;
}

export interface SbomPackage {
  type: PackageType;
  /** As the record gives it (the purl has PEP 503's form of a Python name). */
  name: string;
  version: string;
  architecture?: string;
  /** OS packages: the source package and its version. */
  source?: string;
  sourceVersion?: string;
  /** conda: build string and channel name. */
  build?: string;
  channel?: string;
  purl: string;
  /** The record file (dpkg status or status.d file, apk database, METADATA, PKG-INFO, conda-meta JSON), root-relative. */
  path?: string;
  /** Python and conda: the environment's root, root-relative (`opt/envs/tools`, `usr`). */
  environment?: string;
  /** Only with `all`: the OS package whose file list holds this language record (Trivy leaves these out). */
  ownedBy?: string;
  layer: SbomLayer;
}

export interface SbomImage {
  /** The image as the user named it (or its first tag). */
  name: string;
  /** The image ID: sha256 of the config. */
  id: string;
  tags?: string[];
  repoDigests?: string[];
}

export interface Sbom {
  image: SbomImage;
  distro?: Distro;
  /** Sorted: OS packages (deb, apk), then conda, then pypi; each by name (case-insensitive), version, architecture, path. */
  packages: SbomPackage[];
}

export interface SbomOptions {
  /** Keep language records owned by an OS package (marked `ownedBy`). */
  all?: boolean;
  /** The image's name in the SBOM; default its first tag, else the name it was opened with. */
  name?: string;
  repoDigests?: string[];
}

/** What sbomOf reads: the inventory paths, dpkg's file lists and every language record. */
export function isSbomPath(path: string): boolean {
  const { isInventoryPath } = require('@imagewright/inventory') as typeof import('@imagewright/inventory');
  return isInventoryPath(path) || DPKG_LIST.test(path) || recordKindOf(path) !== undefined;
}

const TYPE_ORDER: Record<PackageType, number> = { deb: 0, apk: 1, conda: 2, pypi: 3 };
const compare = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** The bytes of a regular file or a hard link to one; symlinks are not followed (as Trivy). */
const textOf = (file: ImageFile | undefined) => (file?.content && (file.kind === 'file' || file.kind === 'link') ? file.content.toString('utf8') : undefined);

/** Which status file (main status or a distroless status.d file) lists each dpkg package: `name\0arch` → path. */
function dpkgRecordPaths(files: Map<string, ImageFile>): Map<string, string> {
  const { parseDpkgStatus } = require('@imagewright/inventory') as typeof import('@imagewright/inventory');
  const paths = new Map<string, string>();
  for (const [path, file] of [...files].sort(([a], [b]) => compare(b, a))) {
    if (path !== 'var/lib/dpkg/status' && !(path.startsWith('var/lib/dpkg/status.d/') && !path.endsWith('.md5sums'))) continue;
    const text = textOf(file);
    if (text !== undefined) for (const p of parseDpkgStatus(text)) paths.set(`${p.name}\0${p.architecture ?? ''}`, path);
  }
  return paths;
}

/** Language record paths the OS package managers own (dpkg `.list` files, apk `R:` lines) → the owning package. */
function ownedRecords(files: Map<string, ImageFile>): Map<string, string> {
  const owned = new Map<string, string>();
  for (const [path, file] of files) {
    const list = DPKG_LIST.exec(path);
    const text = list ? textOf(file) : undefined;
    if (!list || text === undefined) continue;
    const name = list[1].replace(/:[^:]*$/, '');
    for (const owns of dpkgListPaths(text)) if (recordKindOf(owns)) owned.set(owns, name);
  }
  for (const db of ['lib/apk/db/installed', 'usr/lib/apk/db/installed']) {
    const text = textOf(files.get(db));
    if (text !== undefined) for (const [owns, name] of apkOwnedFiles(text)) if (recordKindOf(owns)) owned.set(owns, name);
  }
  return owned;
}

/**
 * The SBOM of an image from the merged view through each of its layers (readFilesByLayer with
 * isSbomPath) and its diffIds: pure, for images read or made any way.
 *
 * OS packages come from the top view's inventory; each is attributed to the lowest layer from
 * which every view up to the top lists it at its final version (the status database is rewritten
 * by every layer that installs something, so its file's own layer says nothing). Language records
 * are attributed to the layer of their record file; those an OS package owns are left out unless `all`.
 */
export function sbomOfViews(views: Map<string, ImageFile>[], diffIds: string[], image: SbomImage, options: Pick<SbomOptions, 'all'> = {}): Sbom {
  const { inventoryOf } = require('@imagewright/inventory') as typeof import('@imagewright/inventory');
  if (views.length !== diffIds.length) throw new Error(`${views.length} layer views for ${diffIds.length} diffIds`);
  const top = views.length - 1;
  const final = top >= 0 ? views[top] : new Map<string, ImageFile>();
  const inventory = inventoryOf(final);
  const distro = inventory.distro;
  const layerOf = (index: number): SbomLayer => ({ index, diffId: diffIds[index] });
  const key = (p: OsPackage) => `${p.name}\0${p.architecture ?? ''}\0${p.version}`;
  // Per layer, the OS packages at their versions then (only where the databases changed).
  const present: Set<string>[] = [];
  for (let i = 0; i <= top; i++) present.push(new Set(inventoryOf(views[i]).packages.map(key)));
  const packages: SbomPackage[] = [];
  const dpkgPaths = dpkgRecordPaths(final);
  const apkPath = ['lib/apk/db/installed', 'usr/lib/apk/db/installed'].find((p) => textOf(final.get(p)) !== undefined);
  for (const p of inventory.packages) {
    let index = top;
    while (index > 0 && present[index - 1].has(key(p))) index--;
    // inventoryOf reads both databases: a package the dpkg files list is a deb, the rest apk's.
    const dpkgPath = dpkgPaths.get(`${p.name}\0${p.architecture ?? ''}`);
    const pkgType: PackageType = dpkgPath || !apkPath ? 'deb' : 'apk';
    const path = dpkgPath ?? apkPath;
    packages.push({
      type: pkgType,
      name: p.name,
      version: p.version,
      ...(p.architecture ? { architecture: p.architecture } : {}),
      ...(p.source ? { source: p.source } : {}),
      ...(p.sourceVersion ? { sourceVersion: p.sourceVersion } : {}),
      purl: purlOf({ type: pkgType, name: p.name, version: p.version, architecture: p.architecture }, distro),
      ...(path ? { path } : {}),
      layer: layerOf(index),
    });
  }
  const owned = ownedRecords(final);
  for (const [path, file] of final) {
    const kind = recordKindOf(path);
    const text = kind ? textOf(file) : undefined;
    if (!kind || text === undefined) continue;
    const ownedBy = owned.get(path);
    if (ownedBy && !options.all) continue;
    const environment = environmentOf(path, kind);
    const marks = { path, environment, ...(ownedBy ? { ownedBy } : {}), layer: layerOf(file.layer) };
    if (kind === 'conda') {
      const record = parseCondaMeta(text);
      if (!record) continue;
      const { name, version, build, channel } = record;
      packages.push({ type: 'conda', name, version, ...(build ? { build } : {}), ...(channel ? { channel } : {}), purl: purlOf({ type: 'conda', ...record }), ...marks });
    } else {
      const metadata = parsePythonMetadata(text);
      if (!metadata) continue;
      packages.push({ type: 'pypi', ...metadata, purl: purlOf({ type: 'pypi', ...metadata }), ...marks });
    }
  }
  packages.sort((a, b) => TYPE_ORDER[a.type] - TYPE_ORDER[b.type] || compare(a.name.toLowerCase(), b.name.toLowerCase()) || compare(a.name, b.name) || compare(a.version, b.version) || compare(a.architecture ?? '', b.architecture ?? '') || compare(a.path ?? '', b.path ?? ''));
  return { image, ...(distro ? { distro } : {}), packages };
}

/**
 * The SBOM of an image read from its layers through the image model, in one pass over them (no
 * container; a registry image is read without a pull): dpkg (status and distroless status.d) or
 * apk packages, Python dist-info/egg-info records and conda-meta records anywhere, with purls and
 * the layer that brought each (see sbomOfViews).
 */
export async function sbomOf(image: Image, options: SbomOptions = {}): Promise<Sbom> {
  const { readFilesByLayer, sha256Of } = require('@imagewright/image') as typeof import('@imagewright/image');
  const config = await image.config();
  const views = await readFilesByLayer(image, isSbomPath);
  const id = sha256Of(await image.configBytes());
  const described: SbomImage = {
    name: options.name ?? image.tags[0] ?? image.name,
    id,
    ...(image.tags.length ? { tags: [...image.tags] } : {}),
    ...(options.repoDigests?.length ? { repoDigests: [...options.repoDigests] } : {}),
  };
  return sbomOfViews(views, config.rootfs.diff_ids, described, options);
}
