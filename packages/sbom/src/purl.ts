import type { Distro } from '@imagewright/inventory';
import { pep503Name } from './records';

export type PackageType = 'deb' | 'apk' | 'pypi' | 'conda';

export interface PurlParts {
  type: PackageType;
  name: string;
  version: string;
  architecture?: string;
  /** conda only. */
  build?: string;
  channel?: string;
  subdir?: string;
}

/** The purl namespace of a dpkg distribution: debian or ubuntu (ID, else the first of them in ID_LIKE); else the ID. */
function debNamespace(distro: Distro | undefined): string {
  if (!distro) return 'debian';
  if (distro.id === 'debian' || distro.id === 'ubuntu') return distro.id;
  return distro.idLike.find((id) => id === 'debian' || id === 'ubuntu') ?? distro.id;
}

const distroQualifier = (distro: Distro | undefined) => (distro ? (distro.versionId ? `${distro.id}-${distro.versionId}` : distro.id) : undefined);

/**
 * The package URL (purl-spec) of a package, built by packageurl-js:
 * pkg:deb/<debian|ubuntu>/name@version?arch=…&distro=<id>-<versionId> (a dpkg epoch `1:` goes
 * to an `epoch` qualifier, as Trivy writes it),
 * pkg:apk/alpine/name@version?arch=…&distro=…, pkg:pypi/<PEP 503 name>@version,
 * pkg:conda/name@version?build=…&channel=…&subdir=….
 */
export function purlOf(p: PurlParts, distro?: Distro): string {
  const { PackageURL } = require('packageurl-js') as typeof import('packageurl-js');
  const qualifiers: Record<string, string> = {};
  const set = (key: string, value: string | undefined) => {
    if (value) qualifiers[key] = value;
  };
  let namespace: string | undefined;
  let name = p.name;
  let version = p.version;
  switch (p.type) {
    case 'deb': {
      namespace = debNamespace(distro);
      set('arch', p.architecture);
      // As Trivy and syft write it: the epoch a qualifier, the version without it.
      const epoch = /^(\d+):(.+)$/.exec(p.version);
      if (epoch) {
        set('epoch', epoch[1]);
        version = epoch[2];
      }
      set('distro', distroQualifier(distro));
      break;
    }
    case 'apk':
      namespace = distro?.id && distro.id !== 'linux' ? distro.id : 'alpine';
      set('arch', p.architecture);
      set('distro', distroQualifier(distro));
      break;
    case 'pypi':
      name = pep503Name(p.name);
      break;
    case 'conda':
      set('build', p.build);
      set('channel', p.channel);
      set('subdir', p.subdir);
      break;
  }
  return new PackageURL(p.type, namespace, name, version, Object.keys(qualifiers).length ? qualifiers : undefined, undefined).toString();
}

export interface ParsedPurl {
  type: string;
  namespace?: string;
  name: string;
  version?: string;
  qualifiers: Record<string, string>;
}

/** A purl's parts (packageurl-js); undefined when it is not a valid purl. */
export function parsePurl(purl: string): ParsedPurl | undefined {
  const { PackageURL } = require('packageurl-js') as typeof import('packageurl-js');
  try {
    const parsed = PackageURL.fromString(purl);
    return {
      type: parsed.type,
      ...(parsed.namespace ? { namespace: parsed.namespace } : {}),
      name: parsed.name,
      ...(parsed.version ? { version: parsed.version } : {}),
      qualifiers: { ...((parsed.qualifiers as Record<string, string> | undefined) ?? {}) },
    };
  } catch {
    return undefined;
  }
}
