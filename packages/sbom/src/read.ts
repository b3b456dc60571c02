import { parsePurl } from './purl';
import { PROPERTY } from './write';

/** A package as an SBOM file lists it: ours (CycloneDX or SPDX) or Trivy's CycloneDX. */
export interface ReadPackage {
  /** The purl type (deb, apk, pypi, conda, npm…); `unknown` without a purl. */
  type: string;
  name: string;
  /** As the package manager writes it: a dpkg version with its epoch (`1:1.2.13.dfsg-1`), even where the SBOM has it in the purl only. */
  version: string;
  purl?: string;
  architecture?: string;
  source?: string;
  sourceVersion?: string;
  /** The record file the package was read from, when the SBOM says. */
  path?: string;
  environment?: string;
  ownedBy?: string;
  /** The layer, as far as the SBOM says (Trivy gives the diffId only). */
  layer?: { index?: number; diffId?: string };
}

export interface ReadSbom {
  format: 'cyclonedx' | 'spdx';
  /** The tool that wrote it, `name version`, when it says. */
  tool?: string;
  image?: { name?: string; id?: string };
  packages: ReadPackage[];
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
const list = (v: unknown): Json[] => (Array.isArray(v) ? v.filter(isObject) : []);

/** Trivy's property names (aquasecurity:trivy:*) for what ours name imagewright:*. */
const TRIVY = {
  layerDiffId: 'aquasecurity:trivy:LayerDiffID',
  path: 'aquasecurity:trivy:FilePath',
  source: 'aquasecurity:trivy:SrcName',
  sourceVersion: 'aquasecurity:trivy:SrcVersion',
  sourceRelease: 'aquasecurity:trivy:SrcRelease',
  sourceEpoch: 'aquasecurity:trivy:SrcEpoch',
  imageId: 'aquasecurity:trivy:ImageID',
};

/** Trivy splits a source version into epoch, version and release: joined again as dpkg writes it. */
function trivyVersion(epoch: string | undefined, version: string | undefined, release: string | undefined): string | undefined {
  if (!version) return undefined;
  return `${epoch && epoch !== '0' ? `${epoch}:` : ''}${version}${release ? `-${release}` : ''}`;
}

/** The package fields a set of name → value properties (CycloneDX) or annotations (SPDX) give. */
function fromProperties(get: (name: string) => string | undefined): Partial<ReadPackage> {
  const index = get(PROPERTY.layerIndex);
  const diffId = get(PROPERTY.layerDiffId) ?? get(TRIVY.layerDiffId) ?? get('LayerDiffID');
  const fields: Partial<ReadPackage> = {
    path: get(PROPERTY.path) ?? get(TRIVY.path) ?? get('FilePath'),
    environment: get(PROPERTY.environment),
    source: get(PROPERTY.source) ?? get(TRIVY.source) ?? get('SrcName'),
    sourceVersion: get(PROPERTY.sourceVersion) ?? trivyVersion(get(TRIVY.sourceEpoch), get(TRIVY.sourceVersion), get(TRIVY.sourceRelease)) ?? get('SrcVersion'),
    ownedBy: get(PROPERTY.ownedBy),
    ...(index !== undefined || diffId !== undefined ? { layer: { ...(index !== undefined && /^\d+$/.test(index) ? { index: Number(index) } : {}), ...(diffId ? { diffId } : {}) } } : {}),
  };
  return Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined && v !== ''));
}

function readPackage(name: string | undefined, version: string | undefined, purl: string | undefined, props: Partial<ReadPackage>): ReadPackage | undefined {
  const parsed = purl ? parsePurl(purl) : undefined;
  const pkgName = name ?? parsed?.name;
  let pkgVersion = version ?? parsed?.version;
  if (!pkgName || !pkgVersion) return undefined;
  // Trivy writes a dpkg/rpm epoch as a purl qualifier and leaves it out of the version: put it back.
  const epoch = parsed?.qualifiers.epoch;
  if (epoch && (parsed?.type === 'deb' || parsed?.type === 'rpm') && !/^\d+:/.test(pkgVersion)) pkgVersion = `${epoch}:${pkgVersion}`;
  const architecture = parsed?.qualifiers.arch;
  return {
    type: parsed?.type ?? 'unknown',
    name: pkgName,
    version: pkgVersion,
    ...(purl ? { purl } : {}),
    ...(architecture ? { architecture } : {}),
    ...props,
  };
}

function readCycloneDx(doc: Json): ReadSbom {
  const metadata = isObject(doc.metadata) ? doc.metadata : {};
  const component = isObject(metadata.component) ? metadata.component : undefined;
  const propertiesOf = (c: Json) => {
    const props = list(c.properties);
    return (name: string) => str(props.find((p) => p.name === name)?.value);
  };
  // tools: 1.4 and older an array of {vendor, name, version}; 1.5 {components: [...]}.
  const tools = Array.isArray(metadata.tools) ? list(metadata.tools) : isObject(metadata.tools) ? list(metadata.tools.components) : [];
  const tool = tools[0] ? [str(tools[0].name), str(tools[0].version)].filter(Boolean).join(' ') : undefined;
  const packages: ReadPackage[] = [];
  const walk = (components: Json[]) => {
    for (const c of components) {
      const purl = str(c.purl);
      // Packages are the components with a purl (Trivy's `application` entries are the record files).
      if (purl && c.type !== 'container' && c.type !== 'operating-system') {
        const pkg = readPackage(str(c.name), str(c.version), purl, fromProperties(propertiesOf(c)));
        if (pkg) packages.push(pkg);
      }
      walk(list(c.components));
    }
  };
  walk(list(doc.components));
  const imageId = component ? (propertiesOf(component)(PROPERTY.imageId) ?? propertiesOf(component)(TRIVY.imageId)) : undefined;
  const image = component ? { ...(str(component.name) ? { name: str(component.name) } : {}), ...(imageId ? { id: imageId } : {}) } : undefined;
  return { format: 'cyclonedx', ...(tool ? { tool } : {}), ...(image ? { image } : {}), packages };
}

function readSpdx(doc: Json): ReadSbom {
  const creators = isObject(doc.creationInfo) && Array.isArray(doc.creationInfo.creators) ? doc.creationInfo.creators.map(str).filter(Boolean) : [];
  const tool = (creators as string[]).find((c) => c.startsWith('Tool:'))?.slice('Tool:'.length).trim();
  const all = list(doc.packages);
  const described = new Set(list(doc.relationships).filter((r) => r.relationshipType === 'DESCRIBES').map((r) => str(r.relatedSpdxElement)));
  const imagePkg = all.find((p) => p.primaryPackagePurpose === 'CONTAINER') ?? all.find((p) => described.has(str(p.SPDXID)));
  const packages: ReadPackage[] = [];
  for (const p of all) {
    if (p === imagePkg || p.primaryPackagePurpose === 'OPERATING-SYSTEM') continue;
    const purl = str(list(p.externalRefs).find((r) => r.referenceType === 'purl')?.referenceLocator);
    if (!purl || parsePurl(purl)?.type === 'oci') continue;
    const notes = list(p.annotations)
      .map((a) => str(a.comment) ?? '')
      .map((comment) => /^([^:\s][^\s]*?):\s(.*)$/s.exec(comment.trim()));
    const get = (name: string) => notes.find((m) => m?.[1] === name)?.[2];
    const pkg = readPackage(str(p.name), str(p.versionInfo), purl, fromProperties(get));
    if (pkg) packages.push(pkg);
  }
  const image = imagePkg ? { ...(str(imagePkg.name) ? { name: str(imagePkg.name) } : {}), ...(/^sha256:/.test(str(imagePkg.versionInfo) ?? '') ? { id: str(imagePkg.versionInfo) } : {}) } : undefined;
  return { format: 'spdx', ...(tool ? { tool } : {}), ...(image ? { image } : {}), packages };
}

/**
 * The packages of an SBOM (text or parsed JSON): CycloneDX (ours, Trivy's: components with a
 * purl, nested ones too) or SPDX 2.x JSON (packages with a purl external reference). Layers,
 * record paths and source packages come from our properties/annotations or Trivy's. Anything
 * else is a usage error naming `what` (the file, in a command).
 */
export function readSbom(json: string | object, what = 'SBOM'): ReadSbom {
  const bad = (why: string) => (require('@imagewright/core') as typeof import('@imagewright/core')).usageError(`${what}: ${why}; allowed CycloneDX or SPDX JSON`);
  let doc: unknown = json;
  if (typeof json === 'string') {
    try {
      doc = JSON.parse(json);
    } catch (error) {
      throw bad(`not JSON (${(error as Error).message})`);
    }
  }
  if (isObject(doc) && doc.bomFormat === 'CycloneDX') return readCycloneDx(doc);
  if (isObject(doc) && typeof doc.spdxVersion === 'string') return readSpdx(doc);
  throw bad('neither CycloneDX (no bomFormat) nor SPDX (no spdxVersion)');
}
