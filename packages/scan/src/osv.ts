import { classOfType, type Finding, normalizeSeverity, type ScanResult } from './finding';

/**
 * The OSV backend: an image's packages (our SBOM, read from its layers) matched against OSV
 * advisories from the API or an offline database (@imagewright/advisories, shared with sscan-deps).
 */

/** A package to look up: what an SBOM built here or read from a file says of it. */
export interface ScannedPackage {
  type: string;
  name: string;
  version: string;
  source?: string;
  sourceVersion?: string;
  purl?: string;
  path?: string;
  layer?: { diffId?: string };
}

export interface Distro {
  id: string;
  versionId?: string;
  prettyName?: string;
}

/** `debian 12.15`, as Trivy writes the base of an image. */
function distroLabel(distro: Distro | undefined): string | undefined {
  return distro ? `${distro.id}${distro.versionId ? ` ${distro.versionId}` : ''}` : undefined;
}

/** The packages' findings: one query per distinct package version, one finding per package and advisory. */
export async function osvFindings(image: string, packages: ScannedPackage[], distro: Distro | undefined, advisories: string): Promise<ScanResult> {
  const adv = require('@imagewright/advisories') as typeof import('@imagewright/advisories');
  const queries: import('@imagewright/advisories').OsvQuery[] = [];
  const index = new Map<string, number>();
  const queryOf = packages.map((pkg) => {
    const query = adv.osvQueryOf(pkg, distro);
    if (!query) return undefined;
    const key = `${query.ecosystem}\0${query.name}\0${query.version}`;
    if (!index.has(key)) {
      index.set(key, queries.length);
      queries.push(query);
    }
    return index.get(key)!;
  });
  const db = adv.openAdvisoryDatabase(advisories);
  const answers = queries.length ? await db.query(queries) : [];
  const findings: Finding[] = [];
  packages.forEach((pkg, i) => {
    const q = queryOf[i];
    if (q === undefined) return;
    for (const record of answers[q] ?? []) {
      const hit = adv.affects(record, queries[q]);
      if (!hit) continue;
      findings.push({
        id: record.id,
        aliases: (record.aliases ?? []).filter((a) => a !== record.id),
        severity: normalizeSeverity(adv.severityOf(record, hit.affected[0])),
        package: {
          name: pkg.name,
          version: pkg.version,
          type: pkg.type,
          class: classOfType(pkg.type),
          ...(pkg.purl ? { purl: pkg.purl } : {}),
          ...(pkg.path ? { path: pkg.path } : {}),
          ...(pkg.layer?.diffId ? { layer: pkg.layer.diffId } : {}),
        },
        ...(hit.fixed.length ? { fixedVersion: hit.fixed.join(', ') } : {}),
        status: hit.fixed.length ? 'fixed' : 'affected',
        ...(record.summary ? { title: record.summary } : {}),
        ...(record.details ? { description: record.details } : {}),
        uri: `https://osv.dev/vulnerability/${record.id}`,
      });
    }
  });
  const label = distroLabel(distro);
  return { image, ...(label ? { distro: label } : {}), backend: 'osv', scannedAt: new Date().toISOString(), findings };
}

/** An image (any location) scanned from its layers: no container, no pull. */
export async function osvScanImage(location: string, advisories: string, options: { env?: NodeJS.ProcessEnv; what?: string } = {}): Promise<ScanResult> {
  const { openImage } = require('@imagewright/image') as typeof import('@imagewright/image');
  const { sbomOf } = require('@imagewright/sbom') as typeof import('@imagewright/sbom');
  const image = await openImage(location, { env: options.env, input: options.what ?? 'IMAGE' });
  let sbom;
  try {
    sbom = await sbomOf(image, { name: location });
  } finally {
    await image.close();
  }
  const result = await osvFindings(location, sbom.packages, sbom.distro, advisories);
  return { ...result, digest: sbom.image.id };
}

/** A CycloneDX or SPDX SBOM file (ours, or Trivy's): the distro comes from the OS packages' purls. */
export async function osvScanSbom(data: unknown, name: string, advisories: string): Promise<ScanResult> {
  const { readSbom, parsePurl } = require('@imagewright/sbom') as typeof import('@imagewright/sbom');
  const sbom = readSbom(data as object, name);
  let distro: Distro | undefined;
  for (const pkg of sbom.packages) {
    const qualifier = pkg.purl ? parsePurl(pkg.purl)?.qualifiers.distro : undefined;
    // purl's distro qualifier: `debian-12.15`, `alpine-3.18.4`, `ubuntu-22.04`.
    const match = qualifier ? /^([a-z]+)-(.+)$/.exec(qualifier) : null;
    if (match) {
      distro = { id: match[1], versionId: match[2] };
      break;
    }
  }
  return osvFindings(sbom.image?.name ?? name, sbom.packages, distro, advisories);
}
