import type { Sbom, SbomPackage } from './sbom';

/** CycloneDX and SPDX documents of an Sbom. Deterministic for the same Sbom but for the creation time. */

export interface WriteOptions {
  /** The creation time written (default now). */
  created?: Date;
  /** The tool named as the author. */
  tool?: { name: string; version: string };
}

const DEFAULT_TOOL = { name: 'imagewright-image-sbom', version: '0.1.0' };

/** Property and annotation names of ours, read back by readSbom. */
export const PROPERTY = {
  layerIndex: 'imagewright:layer:index',
  layerDiffId: 'imagewright:layer:diffId',
  path: 'imagewright:package:path',
  environment: 'imagewright:package:environment',
  source: 'imagewright:package:source',
  sourceVersion: 'imagewright:package:sourceVersion',
  ownedBy: 'imagewright:package:ownedBy',
  imageId: 'imagewright:image:id',
  tag: 'imagewright:image:tag',
  repoDigest: 'imagewright:image:repoDigest',
} as const;

function sha256Hex(text: string): string {
  const { createHash } = require('node:crypto') as typeof import('node:crypto');
  return createHash('sha256').update(text).digest('hex');
}

/** What the document says, minus the time: the seed of its serial number / namespace. */
const digestOf = (sbom: Sbom) => sha256Hex(JSON.stringify(sbom));

/** A name-based UUID (version 5 layout) from a hex digest. */
function uuidOf(hex: string): string {
  const h = hex.slice(0, 32).split('');
  h[12] = '5';
  h[16] = ((parseInt(h[16], 16) & 0x3) | 0x8).toString(16);
  const s = h.join('');
  return `${s.slice(0, 8)}-${s.slice(8, 12)}-${s.slice(12, 16)}-${s.slice(16, 20)}-${s.slice(20, 32)}`;
}

/** Unique references for the packages: the purl, with the record path for language packages (as Trivy does). */
function packageRefs(packages: SbomPackage[]): string[] {
  const seen = new Set<string>();
  return packages.map((p) => {
    let ref = p.type === 'pypi' || p.type === 'conda' ? `${p.purl}${p.purl.includes('?') ? '&' : '?'}file_path=${encodeURIComponent(p.path ?? '')}` : p.purl;
    for (let n = 2; seen.has(ref); n++) ref = `${p.purl}#${n}`;
    seen.add(ref);
    return ref;
  });
}

function packageProperties(p: SbomPackage): { name: string; value: string }[] {
  const props: [string, string | undefined][] = [
    [PROPERTY.layerIndex, String(p.layer.index)],
    [PROPERTY.layerDiffId, p.layer.diffId],
    [PROPERTY.path, p.path],
    [PROPERTY.environment, p.environment],
    [PROPERTY.source, p.source],
    [PROPERTY.sourceVersion, p.sourceVersion],
    [PROPERTY.ownedBy, p.ownedBy],
  ];
  return props.filter((e): e is [string, string] => e[1] !== undefined).map(([name, value]) => ({ name, value }));
}

/** SPDX and CycloneDX want second precision in UTC. */
const timestamp = (date: Date) => `${date.toISOString().slice(0, 19)}Z`;

/**
 * A CycloneDX 1.5 JSON document: metadata.component is the image (a `container`, version = its
 * ID, tags and repo digests as properties), the distribution an `operating-system` component,
 * each package a `library` with bom-ref, name, version, purl and properties naming the layer
 * (index, diffId), the record path and environment; the image depends on every component.
 */
export function toCycloneDx(sbom: Sbom, options: WriteOptions = {}): object {
  const tool = options.tool ?? DEFAULT_TOOL;
  const imageRef = `image:${sbom.image.id}`;
  const refs = packageRefs(sbom.packages);
  const os = sbom.distro
    ? [{ 'bom-ref': `os:${sbom.distro.id}${sbom.distro.versionId ? `-${sbom.distro.versionId}` : ''}`, type: 'operating-system', name: sbom.distro.id, ...(sbom.distro.versionId ? { version: sbom.distro.versionId } : {}) }]
    : [];
  const components = [
    ...os,
    ...sbom.packages.map((p, i) => ({
      'bom-ref': refs[i],
      type: 'library',
      name: p.name,
      version: p.version,
      purl: p.purl,
      properties: packageProperties(p),
    })),
  ];
  return {
    bomFormat: 'CycloneDX',
    specVersion: '1.5',
    serialNumber: `urn:uuid:${uuidOf(digestOf(sbom))}`,
    version: 1,
    metadata: {
      timestamp: timestamp(options.created ?? new Date()),
      tools: { components: [{ type: 'application', name: tool.name, version: tool.version }] },
      component: {
        'bom-ref': imageRef,
        type: 'container',
        name: sbom.image.name,
        version: sbom.image.id,
        properties: [
          { name: PROPERTY.imageId, value: sbom.image.id },
          ...(sbom.image.tags ?? []).map((value) => ({ name: PROPERTY.tag, value })),
          ...(sbom.image.repoDigests ?? []).map((value) => ({ name: PROPERTY.repoDigest, value })),
        ],
      },
    },
    components,
    dependencies: [{ ref: imageRef, dependsOn: components.map((c) => c['bom-ref']) }],
  };
}

/** An SPDX identifier: letters, digits, `.` and `-` only. */
const spdxId = (text: string) => text.replace(/[^A-Za-z0-9.-]+/g, '-');

/**
 * An SPDX 2.3 JSON document: the image a CONTAINER package (version = its ID) that the document
 * DESCRIBES and that CONTAINS every package; each package with a PACKAGE-MANAGER purl external
 * reference and annotations naming its layer, record path and environment (`name: value`).
 * Identifiers and the namespace come from the content, so two runs differ in the creation time only.
 */
export function toSpdx(sbom: Sbom, options: WriteOptions = {}): object {
  const tool = options.tool ?? DEFAULT_TOOL;
  const created = timestamp(options.created ?? new Date());
  const annotator = `Tool: ${tool.name}-${tool.version}`;
  const digest = digestOf(sbom);
  const refs = packageRefs(sbom.packages);
  const imageId = 'SPDXRef-Image';
  const os = sbom.distro
    ? [
        {
          SPDXID: 'SPDXRef-OperatingSystem',
          name: sbom.distro.id,
          ...(sbom.distro.versionId ? { versionInfo: sbom.distro.versionId } : {}),
          downloadLocation: 'NOASSERTION',
          filesAnalyzed: false,
          primaryPackagePurpose: 'OPERATING-SYSTEM',
        },
      ]
    : [];
  const note = (name: string, value: string) => ({ annotator, annotationDate: created, annotationType: 'OTHER', comment: `${name}: ${value}` });
  const imageNotes = [...(sbom.image.tags ?? []).map((v) => note(PROPERTY.tag, v)), ...(sbom.image.repoDigests ?? []).map((v) => note(PROPERTY.repoDigest, v))];
  const packages = sbom.packages.map((p, i) => ({
    SPDXID: `SPDXRef-Package-${p.type}-${spdxId(p.name)}-${sha256Hex(refs[i]).slice(0, 12)}`,
    name: p.name,
    versionInfo: p.version,
    downloadLocation: 'NOASSERTION',
    filesAnalyzed: false,
    primaryPackagePurpose: 'LIBRARY',
    ...(p.source && (p.source !== p.name || p.sourceVersion !== p.version) ? { sourceInfo: `built from source package ${p.source} ${p.sourceVersion ?? ''}`.trim() } : {}),
    externalRefs: [{ referenceCategory: 'PACKAGE-MANAGER', referenceType: 'purl', referenceLocator: p.purl }],
    annotations: packageProperties(p).map(({ name, value }) => note(name, value)),
  }));
  return {
    spdxVersion: 'SPDX-2.3',
    dataLicense: 'CC0-1.0',
    SPDXID: 'SPDXRef-DOCUMENT',
    name: sbom.image.name,
    documentNamespace: `https://imagewright.invalid/spdx/${spdxId(sbom.image.name)}-${digest.slice(0, 32)}`,
    creationInfo: { created, creators: [annotator] },
    packages: [
      {
        SPDXID: imageId,
        name: sbom.image.name,
        versionInfo: sbom.image.id,
        downloadLocation: 'NOASSERTION',
        filesAnalyzed: false,
        primaryPackagePurpose: 'CONTAINER',
        ...(imageNotes.length ? { annotations: imageNotes } : {}),
      },
      ...os,
      ...packages,
    ],
    relationships: [
      { spdxElementId: 'SPDXRef-DOCUMENT', relationshipType: 'DESCRIBES', relatedSpdxElement: imageId },
      ...[...os, ...packages].map((p) => ({ spdxElementId: imageId, relationshipType: 'CONTAINS', relatedSpdxElement: p.SPDXID })),
    ],
  };
}
