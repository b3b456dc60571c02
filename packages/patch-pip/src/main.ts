#!/usr/bin/env -S node --
import { command, usageError } from '@imagewright/core/bin';
import { PATCH_DESCRIPTION, PATCH_OPTIONS, PATCH_SPEC } from '@imagewright/patch/command';

command({
  name: 'patch-pip',
  summary: "Install Python packages into one of an image's environments without a rebuild; its tests run before the tag moves.",
  args: 'ENV PACKAGE[==VERSION]...',
  positionals: { min: 2, max: Infinity },
  description: `ENV is an environment of the image (image-env-list); its own pip installs each PACKAGE at
VERSION or the newest its index offers (the image's pip config applies: PIP_INDEX_URL,
PIP_FIND_LINKS…). A PACKAGE ending in .whl is a wheel file on this machine: it is copied into the
patch folder and installed from there (offline sites). The patched image then runs ENV's tests
(image-test ENV) and the tag moves only when they pass (--no-test skips them). --description
defaults to "pip ENV: PACKAGE...".
${PATCH_DESCRIPTION}`,
  ...PATCH_SPEC,
  options: { ...PATCH_OPTIONS, 'no-test': { type: 'boolean', description: "do not run the environment's tests before the tag moves" } },
  async run(ctx) {
    const { readFileSync, statSync } = require('node:fs') as typeof import('node:fs');
    const { basename } = require('node:path') as typeof import('node:path');
    const patch = require('@imagewright/patch') as typeof import('@imagewright/patch');
    const { runPatch } = require('@imagewright/patch/command') as typeof import('@imagewright/patch/command');
    const [environment, ...packages] = ctx.positionals;
    if (!/^[\w.-]+$/.test(environment)) throw usageError(`ENV ${JSON.stringify(environment)}: allowed an environment name (letters, digits, _ . -)`);
    const files: { name: string; body: Buffer }[] = [];
    const requirements = packages.map((spec) => {
      if (patch.checkPipRequirement(spec) === 'requirement') return spec;
      const stat = statSync(spec, { throwIfNoEntry: false });
      if (!stat?.isFile()) throw usageError(`PACKAGE ${spec}: ${stat ? 'not a regular file' : 'no such wheel file'}; allowed NAME, NAME==VERSION or a local .whl file`);
      files.push({ name: basename(spec), body: readFileSync(spec) });
      return `./${basename(spec)}`;
    });
    const { out } = ctx;
    await runPatch(ctx, async (source, connect) => {
      const environments = require('@imagewright/environments') as typeof import('@imagewright/environments');
      const { engineRef } = require('@imagewright/image') as typeof import('@imagewright/image');
      const engine = await connect();
      // An unknown ENV is a usage error before anything runs (the in-image tool says which exist).
      const known = await environments.listEnvironments(engine, await engineRef(source, { env: ctx.env, input: '--source', engine: connect }));
      if (!known.some((e) => e.name === environment)) {
        throw usageError(`ENV ${environment}: not an environment of ${source}; allowed ${known.map((e) => e.name).join(', ') || '(none)'}`);
      }
      return {
        command: 'patch-pip',
        script: patch.pipInstall(environment, requirements),
        files,
        description: `pip ${environment}: ${packages.map((p) => basename(p)).join(' ')}`,
        check: ctx.values['no-test']
          ? undefined
          : async (id) => {
              const report = await environments.runImageTests(engine, id, {
                environments: [environment],
                onResult: (r) => environments.formatTestResult(r, out).forEach((line) => out.info(line)),
              });
              if (report.failed) throw patch.testsFailed(environment, report.failed, report.passed);
            },
      };
    });
  },
});
