import type { Image, ImageFile } from '@imagewright/image';
import { type OsPackage, parseApkInstalled, parseDpkgStatus, parseOsRelease } from './parsers';

export interface Distro {
  /** os-release ID (`linux` when the file has none, as os-release(5) says). */
  id: string;
  idLike: string[];
  versionId?: string;
  versionCodename?: string;
  prettyName?: string;
}

export type PackageManager = 'apt' | 'apk';

export interface OsInventory {
  /** From os-release; absent when the image has none. */
  distro?: Distro;
  /** 'apt' when a dpkg status database exists, 'apk' for apk's; absent when neither does. */
  manager?: PackageManager;
  /** Sorted by name, then architecture. */
  packages: OsPackage[];
}

const DPKG_STATUS = 'var/lib/dpkg/status';
/** Distroless images keep one status file per package here instead of DPKG_STATUS. */
const DPKG_STATUS_D = 'var/lib/dpkg/status.d';
/** apk v2's database; apk v3 systems with a merged /usr keep it under usr/. */
const APK_DBS = ['lib/apk/db/installed', 'usr/lib/apk/db/installed'];
/** os-release(5): /etc/os-release first, /usr/lib/os-release when it does not exist. */
const OS_RELEASES = ['etc/os-release', 'usr/lib/os-release'];

/** Root-relative paths (files, and the status.d directory) whose files the inventory needs. */
export const INVENTORY_PATHS: string[] = [...OS_RELEASES, DPKG_STATUS, DPKG_STATUS_D, ...APK_DBS];

/** `select` for readFiles: the inventory paths and the files in var/lib/dpkg/status.d/. */
export function isInventoryPath(path: string): boolean {
  return INVENTORY_PATHS.includes(path) || path.startsWith(`${DPKG_STATUS_D}/`);
}

function distroOf(values: Record<string, string>): Distro {
  return {
    id: values.ID || 'linux',
    idLike: (values.ID_LIKE ?? '').split(/\s+/).filter(Boolean),
    ...(values.VERSION_ID ? { versionId: values.VERSION_ID } : {}),
    ...(values.VERSION_CODENAME ? { versionCodename: values.VERSION_CODENAME } : {}),
    ...(values.PRETTY_NAME ? { prettyName: values.PRETTY_NAME } : {}),
  };
}

/** A file's text, symlinks (and symlinked directories) followed within `files`; undefined when it is not a readable file. */
function textOf(files: Map<string, ImageFile>, path: string): string | undefined {
  const { followLink } = require('@imagewright/image') as typeof import('@imagewright/image');
  const file = followLink(files, path);
  return file?.content && (file.kind === 'file' || file.kind === 'link') ? file.content.toString('utf8') : undefined;
}

const compare = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
const byNameThenArch = (a: { name: string; architecture?: string }, b: { name: string; architecture?: string }) =>
  compare(a.name, b.name) || compare(a.architecture ?? '', b.architecture ?? '');

/**
 * The OS inventory of an image's files (readFiles with isInventoryPath, or the same paths
 * copied out of a container): the distribution from os-release, the packages of the dpkg
 * status database and distroless status.d files (`*.md5sums` skipped), or of apk's database.
 */
export function inventoryOf(files: Map<string, ImageFile>): OsInventory {
  const osRelease = OS_RELEASES.map((path) => textOf(files, path)).find((text) => text !== undefined);
  const dpkgTexts: string[] = [];
  const status = textOf(files, DPKG_STATUS);
  if (status !== undefined) dpkgTexts.push(status);
  for (const [path, file] of [...files].sort(([a], [b]) => compare(a, b))) {
    if (!path.startsWith(`${DPKG_STATUS_D}/`) || path.endsWith('.md5sums') || !file.content) continue;
    if (file.kind === 'file' || file.kind === 'link') dpkgTexts.push(file.content.toString('utf8'));
  }
  const apkText = APK_DBS.map((path) => textOf(files, path)).find((text) => text !== undefined);
  const found = [...dpkgTexts.flatMap(parseDpkgStatus), ...(apkText === undefined ? [] : parseApkInstalled(apkText))];
  // The same package twice (status and status.d both listing it) is listed once.
  const seen = new Set<string>();
  const packages = found.filter((p) => {
    const key = `${p.name}\0${p.architecture ?? ''}\0${p.version}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  packages.sort(byNameThenArch);
  const manager: PackageManager | undefined = dpkgTexts.length ? 'apt' : apkText !== undefined ? 'apk' : undefined;
  return {
    ...(osRelease !== undefined ? { distro: distroOf(parseOsRelease(osRelease)) } : {}),
    ...(manager ? { manager } : {}),
    packages,
  };
}

/** The OS inventory of an image, read from its layers (no container). */
export async function osInventory(image: Image): Promise<OsInventory> {
  const { readFiles } = require('@imagewright/image') as typeof import('@imagewright/image');
  return inventoryOf(await readFiles(image, isInventoryPath));
}

export interface PackageChange {
  name: string;
  architecture?: string;
  /** Version before; absent for an added package. */
  before?: string;
  /** Version after; absent for a removed package. */
  after?: string;
}

/**
 * What changed between two package lists, by name and architecture: changed versions, added and
 * removed packages, sorted by name then architecture. Unchanged packages are left out.
 */
export function diffPackages(before: OsPackage[], after: OsPackage[]): PackageChange[] {
  const key = (p: OsPackage) => `${p.name}\0${p.architecture ?? ''}`;
  const index = (list: OsPackage[]) => {
    const map = new Map<string, OsPackage>();
    for (const p of list) if (!map.has(key(p))) map.set(key(p), p);
    return map;
  };
  const old = index(before);
  const now = index(after);
  const changes: PackageChange[] = [];
  for (const k of new Set([...old.keys(), ...now.keys()])) {
    const a = old.get(k);
    const b = now.get(k);
    if (a && b && a.version === b.version) continue;
    const { name, architecture } = (a ?? b)!;
    changes.push({ name, ...(architecture ? { architecture } : {}), ...(a ? { before: a.version } : {}), ...(b ? { after: b.version } : {}) });
  }
  return changes.sort(byNameThenArch);
}
