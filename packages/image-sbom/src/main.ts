#!/usr/bin/env -S node --
import { command, usageError } from '@imagewright/core/bin';

const FORMATS = ['cyclonedx', 'spdx'];

command({
  name: 'image-sbom',
  summary: "The image's packages, read from its layers (no container, no pull), as a CycloneDX or SPDX SBOM with purls and the layer that brought each.",
  image: 'positional',
  description: `
IMAGE (or --image; default IMAGE_ID) is any image location: an Engine image (REF or
docker-daemon:REF), docker://REF (read from the registry, never pulled), docker-archive:FILE[:REF],
oci:DIR[:REF], oci-archive:FILE[:REF].

Packages: Debian/Ubuntu dpkg status (and distroless status.d), Alpine's apk database, Python
*.dist-info/METADATA and *.egg-info (directory or file) in any environment (venvs, conda envs,
system site/dist-packages), conda-meta/*.json records. Python and conda records that an OS
package installed (listed in dpkg's or apk's file lists) are left out, as Trivy does; --all keeps
them, marked with the owning package (imagewright:package:ownedBy).

Layers: a Python or conda package belongs to the layer of its record file; a dpkg or apk package
to the lowest layer from which the image's database lists it at its final version (an upgrade
moves it to the upgrading layer). Each package's properties (CycloneDX) or annotations (SPDX)
name imagewright:layer:index, imagewright:layer:diffId and imagewright:package:path.

--format cyclonedx (CycloneDX 1.5 JSON, the default) or spdx (SPDX 2.3 JSON). The SBOM goes to
stdout, or to -o FILE (written whole or not at all).`,
  config: 'lazy',
  options: {
    format: { type: 'string', value: 'FORMAT', description: 'cyclonedx (default) or spdx' },
    output: { type: 'string', short: 'o', value: 'FILE', description: 'write the SBOM to FILE instead of stdout' },
    all: { type: 'boolean', description: 'keep Python/conda records an OS package installed (marked)' },
  },
  engineVersion: (env) => (require('@imagewright/docker') as typeof import('@imagewright/docker')).engineApiVersion(env),
  async run(ctx) {
    const { values, out, env } = ctx;
    const format = (values.format as string | undefined) ?? 'cyclonedx';
    if (!FORMATS.includes(format)) throw usageError(`--format ${JSON.stringify(format)}: allowed ${FORMATS.join(' or ')}`);
    if (values.output === '') throw usageError('-o/--output is empty: allowed a file path');
    // Loaded here, not at the top: --help stays cheap.
    const image = require('@imagewright/image') as typeof import('@imagewright/image');
    const sbom = require('@imagewright/sbom') as typeof import('@imagewright/sbom');
    const core = require('@imagewright/core') as typeof import('@imagewright/core');
    const location = ctx.image;
    const opened = await image.openImage(location, { env, input: values.image === undefined ? 'IMAGE' : '--image' });
    let result;
    try {
      result = await sbom.sbomOf(opened, { all: Boolean(values.all), name: location, repoDigests: await repoDigestsOf(opened, location, env) });
    } finally {
      await opened.close();
    }
    const tool = { name: 'imagewright-image-sbom', version: core.imagewrightVersion() };
    const doc = format === 'spdx' ? sbom.toSpdx(result, { tool }) : sbom.toCycloneDx(result, { tool });
    const text = `${JSON.stringify(doc, null, 2)}\n`;
    if (values.output !== undefined) {
      const file = values.output as string;
      try {
        core.writeFileAtomic(file, text);
      } catch (error) {
        throw core.failure(`cannot write ${file}: ${(error as Error).message}`);
      }
      out.info(`${result.packages.length} packages of ${location} written to ${file} (${format})`);
    } else out.stdout.write(text);
  },
});

/**
 * The repo digests the image is known by: the Engine's RepoDigests for an Engine image (by its
 * ID: the tag may have moved since), the digest a registry reference pins.
 */
async function repoDigestsOf(opened: import('@imagewright/image').Image, location: string, env: NodeJS.ProcessEnv): Promise<string[]> {
  const { parseLocation, sha256Of } = require('@imagewright/image') as typeof import('@imagewright/image');
  const parsed = parseLocation(location);
  if (parsed.transport === 'engine') {
    const { connectEngine } = require('@imagewright/docker') as typeof import('@imagewright/docker');
    const engine = await connectEngine(env);
    const inspected = await engine.getImage(sha256Of(await opened.configBytes())).inspect();
    return inspected.RepoDigests ?? [];
  }
  const pinned = parsed.transport === 'registry' ? /^([^@]+?)(?::[^:/@]+)?@(sha256:[0-9a-f]{64})$/.exec(parsed.ref) : null;
  return pinned ? [`${pinned[1]}@${pinned[2]}`] : [];
}
