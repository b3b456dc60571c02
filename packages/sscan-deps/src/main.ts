#!/usr/bin/env -S node --
import { command, usageError } from '@imagewright/core/bin';
import type { CommandContext } from '@imagewright/core';

const DEFAULT_OSV_API = 'https://api.osv.dev';

/** Whether the user named a configuration (then it must load; otherwise none just means no defaults). */
const namesDeployment = (ctx: CommandContext) => Boolean(ctx.values['setup-env'] || ctx.env.IMAGEWRIGHT_SETUP_ENV || ctx.env.DEPLOYMENT_NAME);

command({
  name: 'sscan-deps',
  summary: 'Pinned dependencies of the frozen specs and of the host\'s pip list matched against OSV advisories.',
  args: '[SPEC...]',
  positionals: { min: 0, max: Infinity },
  description: `
SPEC is a conda environment YAML (.yml/.yaml: a frozen spec) or a requirements file (anything
else). Without SPECs: every frozen spec of DEPLOYMENT_NAME and of common,
deployments/{<name>,common}/image/environments/frozen/*-frozen.yml and
image/env-frozen/<env>/requirements.{yml,txt}. The host's \`pip list --format=freeze\` is scanned
too, as the original sscan-safety did (--no-host leaves it out; no pip on PATH is said and skipped).
Every spec is scanned whatever the others found. sscan-safety is the same command.

What is matched: pip packages pinned \`name==version\` (requirements lines and a YAML's pip:
section), as PyPI packages by PEP 440 ranges. Unpinned lines (\`>=\`, \`name @ url\`) are listed
as unpinned and not matched; option lines (-r, -e, --index-url) are skipped with a note. Conda
packages (\`name=version[=build]\`) and apt pins are counted "not covered": OSV has no conda
ecosystem, a conda package need not be the PyPI project of the same name (a C library's build),
and apt pins carry no Debian release (image-scan covers the image's OS packages).
--conda-as-pypi looks conda packages up as PyPI packages of the same name and version.

Advisories: --advisories URL|DIR|ZIP (an OSV API, a directory of OSV records, OSV's all.zip),
else deployment.yaml scan.advisories, else IMAGEWRIGHT_OSV_URL, else ${DEFAULT_OSV_API}.
Ignores: --ignore FILE (repeatable), else deployments/<name>/image/environments/frozen/safety.ignore
when it exists plus deployment.yaml scan.ignore. One rule a line: an advisory ID or alias
(PYSEC-…, GHSA-…, CVE-…) with an optional expiry date (2025-06-30 or exp:2025-06-30), or a
pasted safety table row \`| pkg | ver | spec | ID |\`; # comments and blank lines. A rule that
matches nothing is reported stale; an expired one is reported and not applied.

Output: per spec a "==== SPEC ====" banner, then "package version ID severity fixed-in" per
finding, then a summary line. --json {specs: [{spec, packages, findings, ignored, unpinned, …}],
summary, staleIgnores, expiredIgnores}. Exit 1 when an advisory not ignored remains.`,
  config: 'lazy',
  json: true,
  options: {
    advisories: { type: 'string', value: 'URL|DIR|ZIP', description: `OSV API, directory of OSV records or all.zip (default ${DEFAULT_OSV_API})` },
    ignore: { type: 'string', value: 'FILE', multiple: true, description: 'ignore rules (repeatable; default the deployment\'s safety.ignore)' },
    'no-host': { type: 'boolean', description: "leave out the host's pip list" },
    'conda-as-pypi': { type: 'boolean', description: 'match conda packages as PyPI packages of the same name' },
  },
  engineVersion: (env) => (require('@imagewright/docker') as typeof import('@imagewright/docker')).engineApiVersion(env),
  async run(ctx) {
    const { out, values, env } = ctx;
    const { existsSync } = require('node:fs') as typeof import('node:fs');
    const { isAbsolute, join } = require('node:path') as typeof import('node:path');
    const { shownPath } = require('@imagewright/core') as typeof import('@imagewright/core');
    const adv = require('@imagewright/advisories') as typeof import('@imagewright/advisories');
    const deps = require('./deps') as typeof import('./deps');
    const { frozenSpecsIn } = require('@imagewright/environments') as typeof import('@imagewright/environments');

    // Config: needed for the default specs; with SPECs only for the deployment's defaults, if any.
    let loaded: import('@imagewright/core').Loaded | undefined;
    if (ctx.positionals.length === 0) loaded = ctx.loaded;
    else {
      try {
        loaded = ctx.loaded;
      } catch (error) {
        if (namesDeployment(ctx)) throw error;
      }
    }
    const root = loaded?.config.IMAGEWRIGHT_ROOT;
    const shown = (path: string) => shownPath(path, root);
    const fromDeployment = (value: string) => (/^https?:\/\//i.test(value) || isAbsolute(value) || !loaded ? value : join(loaded.deployment.dir, value));

    const files = ctx.positionals.length
      ? ctx.positionals
      : [...frozenSpecsIn(loaded!.deployment.imageDir), ...frozenSpecsIn(join(loaded!.config.IMAGEWRIGHT_ROOT, 'deployments', 'common', 'image'))];
    for (const file of files) if (file === '') throw usageError('an empty SPEC: allowed a conda YAML or requirements file');
    const specs = files.map((file) => deps.readSpec(file, shown(file)));

    const scanSpec = loaded?.deployment.spec.scan;
    const advisories = (values.advisories as string | undefined) ?? (scanSpec?.advisories ? fromDeployment(scanSpec.advisories) : env.IMAGEWRIGHT_OSV_URL || DEFAULT_OSV_API);
    const db = adv.openAdvisoryDatabase(advisories);

    let ignoreFiles = values.ignore as string[] | undefined;
    if (!ignoreFiles) {
      ignoreFiles = [];
      const safetyIgnore = loaded && join(loaded.deployment.imageDir, 'environments', 'frozen', 'safety.ignore');
      if (safetyIgnore && existsSync(safetyIgnore)) ignoreFiles.push(safetyIgnore);
      if (scanSpec?.ignore) ignoreFiles.push(fromDeployment(scanSpec.ignore));
    }
    const rules = ignoreFiles.flatMap((file) => adv.readIgnoreFile(file).map((r) => ({ ...r, where: r.where.replace(file, shown(file)) })));

    if (!values['no-host']) {
      const host = await deps.hostPins(env);
      if (host.found) specs.unshift(host.pins);
      else out.info(`sscan-deps: host: ${host.reason}, its packages are not scanned`);
    }
    if (specs.length === 0) out.info('sscan-deps: no frozen specs found');

    const scan = await deps.scanDependencies(specs, db, rules, { condaAsPyPI: Boolean(values['conda-as-pypi']) });
    const failed = scan.summary.findings > 0;
    if (out.json) {
      out.printJson({ advisories: db.source, ...scan });
      return failed ? 1 : 0;
    }
    for (const s of scan.specs) {
      out.line(`==== ${s.spec} ====`);
      for (const f of s.findings) out.line(`${f.package} ${f.version} ${f.id} ${f.severity} ${f.fixed.join(',') || '-'}`);
      if (s.ignored.length) out.line(`(${s.ignored.length} ignored: ${[...new Set(s.ignored.map((f) => f.id))].join(', ')})`);
      if (s.unpinned.length) out.info(`${s.spec}: ${s.unpinned.length} unpinned, not matched: ${s.unpinned.slice(0, 5).join(', ')}${s.unpinned.length > 5 ? ', …' : ''}`);
      if (s.skipped.length) out.info(`${s.spec}: ${s.skipped.length} option line${s.skipped.length === 1 ? '' : 's'} skipped: ${s.skipped.slice(0, 3).join(', ')}`);
    }
    for (const r of scan.staleIgnores) out.info(`stale ignore ${r.id} (${r.where}): matches no finding`);
    for (const r of scan.expiredIgnores) out.info(`expired ignore ${r.id} (${r.where}): expired ${r.expires}, not applied`);
    const line = `sscan-deps: ${deps.summaryLine(scan)}`;
    out.line(failed ? out.red(line) : out.green(line));
    return failed ? 1 : 0;
  },
});
