import type { OsvQuery } from './osv';

/** An installed package as the SBOM sees it; `source`/`sourceVersion` from dpkg's Source: or apk's `o:`. */
export interface PackageIdentity {
  type: 'deb' | 'apk' | 'pypi' | 'conda' | string;
  name: string;
  version: string;
  source?: string;
  sourceVersion?: string;
}

/** os-release's ID and VERSION_ID. */
export interface DistroIdentity {
  id: string;
  versionId?: string;
}

export interface OsvQueryOptions {
  /**
   * OSV has no conda ecosystem. Most conda-forge packages carry their PyPI project's name and
   * version, so with this set a conda package is looked up as a PyPI one; conda-only packages
   * (libssl, python itself) then simply find nothing. Off by default: a renamed conda package
   * (e.g. `pytorch` for PyPI `torch`) would be missed either way, and a conda build of a C library
   * sharing a PyPI name would be matched wrongly.
   */
  condaAsPyPI?: boolean;
}

/**
 * The OSV query for a package, or undefined when OSV has no ecosystem for it (an unknown distro, a
 * deb without VERSION_ID such as Debian testing/sid, conda without `condaAsPyPI`).
 *
 * Debian and Ubuntu advisories are per source package (one advisory for `openssl` covers
 * `libssl3`), so the source name and source version are asked; Alpine's likewise per origin.
 */
export function osvQueryOf(pkg: PackageIdentity, distro?: DistroIdentity, options: OsvQueryOptions = {}): OsvQuery | undefined {
  const id = distro?.id.trim().toLowerCase();
  const versionId = distro?.versionId?.trim();
  switch (pkg.type) {
    case 'deb': {
      const name = pkg.source || pkg.name;
      const version = pkg.sourceVersion || pkg.version;
      if (!versionId) return undefined;
      if (id === 'debian') {
        const major = /^(\d+)/.exec(versionId)?.[1];
        return major ? { ecosystem: `Debian:${major}`, name, version } : undefined;
      }
      if (id === 'ubuntu') return { ecosystem: `Ubuntu:${versionId}`, name, version };
      return undefined;
    }
    case 'apk': {
      const release = versionId && /^(\d+)\.(\d+)/.exec(versionId);
      if (id !== 'alpine' || !release) return undefined;
      return { ecosystem: `Alpine:v${release[1]}.${release[2]}`, name: pkg.source || pkg.name, version: pkg.sourceVersion || pkg.version };
    }
    case 'pypi':
      return { ecosystem: 'PyPI', name: pkg.name, version: pkg.version };
    case 'conda':
      return options.condaAsPyPI ? { ecosystem: 'PyPI', name: pkg.name, version: pkg.version } : undefined;
    default:
      return undefined;
  }
}
