import { accessSync, constants, readFileSync, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { failure, ImagewrightError, usageError } from '@imagewright/core';
import type { AdvisoryDatabase, IgnoreRule, OsvQuery } from '@imagewright/advisories';

/*
 * sscan-deps' domain: the pinned packages of frozen specs (conda YAML, requirements files) and of
 * the host's `pip list`, matched against OSV advisories, with ignore rules applied across all specs.
 * Heavy modules (yaml through @imagewright/environments, zx, the advisories) load at use.
 */

export type PinSection = 'pip' | 'conda' | 'apt';

export interface PinnedPackage {
  section: PinSection;
  name: string;
  version: string;
}

export interface SpecPins {
  /** How messages name the spec: a path, or `host (pip list)`. */
  spec: string;
  packages: PinnedPackage[];
  /** Requirements that pin no single version (`numpy>=1.20`, `name @ git+…`): not matched. */
  unpinned: string[];
  /** Lines skipped on purpose (`-r other.txt`, `--index-url …`). */
  skipped: string[];
}

export const HOST_SPEC = 'host (pip list)';

// ---- reading specs

/** `name[extras]==version` (or `===`), optional `; markers` and trailing `--hash=` options; else undefined. */
function pinnedRequirement(line: string): { name: string; version: string } | undefined {
  const m = /^([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*===?\s*([^\s;,]+)\s*(?:;.*)?$/.exec(line.replace(/\s+--hash[= ]\S+/g, '').trim());
  return m && !m[2].includes('*') ? { name: m[1], version: m[2] } : undefined;
}

/** One requirement line into pins, unpinned or skipped. */
function addRequirement(pins: SpecPins, raw: string): void {
  const line = raw.replace(/(^|\s)#.*$/, '').trim();
  if (line === '') return;
  if (line.startsWith('-')) {
    pins.skipped.push(line);
    return;
  }
  const pin = pinnedRequirement(line);
  if (pin) pins.packages.push({ section: 'pip', ...pin });
  else pins.unpinned.push(line);
}

/** A requirements file (pip freeze, pip-compile): one requirement per line, `\` continues a line. */
export function readRequirements(text: string, spec: string): SpecPins {
  const pins: SpecPins = { spec, packages: [], unpinned: [], skipped: [] };
  for (const line of text.replace(/\\\r?\n/g, ' ').split(/\r?\n/)) addRequirement(pins, line);
  return pins;
}

/** A conda dependency `[channel::]name=version[=build]` or `name==version`; undefined when not one version. */
function condaPin(spec: string): { name: string; version: string } | undefined {
  const m = /^(?:[^\s:]+::)?([A-Za-z0-9_][A-Za-z0-9._-]*)\s*(?:==?|\s)\s*([^\s=<>!*,|]+)(?:[=\s]\S+)?$/.exec(spec.trim());
  return m ? { name: m[1], version: m[2] } : undefined;
}

/** A conda environment YAML (a frozen spec): its conda packages, its `pip:` entries and `apt:` pins. */
export function readCondaSpec(text: string, spec: string): SpecPins {
  const { parseExport } = require('@imagewright/environments') as typeof import('@imagewright/environments');
  let parsed: import('@imagewright/environments').EnvironmentExport;
  try {
    parsed = parseExport(text, spec);
  } catch (error) {
    // A spec that is not one is bad input, not a failed scan.
    if (error instanceof ImagewrightError) throw usageError(error.message);
    throw error;
  }
  const pins: SpecPins = { spec, packages: [], unpinned: [], skipped: [] };
  for (const dep of parsed.dependencies) {
    if (typeof dep !== 'string') {
      for (const line of dep.pip) addRequirement(pins, line);
      continue;
    }
    const pin = condaPin(dep);
    if (pin) pins.packages.push({ section: 'conda', ...pin });
    else pins.unpinned.push(dep);
  }
  for (const line of parsed.apt ?? []) {
    const at = line.indexOf('=');
    if (at > 0) pins.packages.push({ section: 'apt', name: line.slice(0, at).trim(), version: line.slice(at + 1).trim() });
    else pins.unpinned.push(line);
  }
  return pins;
}

/** A spec file by its name: `.yml`/`.yaml` conda YAML, anything else a requirements file. */
export function readSpec(file: string, shown: string = file): SpecPins {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw usageError(`spec ${shown}: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'a directory' : (error as Error).message} (expected a conda YAML or requirements file)`);
  }
  return /\.ya?ml$/i.test(file) ? readCondaSpec(text, shown) : readRequirements(text, shown);
}

/** The first executable `name` on env's PATH. */
function onPath(name: string, env: NodeJS.ProcessEnv): string | undefined {
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    const file = join(dir || '.', name);
    try {
      accessSync(file, constants.X_OK);
      if (statSync(file).isFile()) return file;
    } catch {
      // not here
    }
  }
  return undefined;
}

export type HostPins = { found: true; pins: SpecPins } | { found: false; reason: string };

/** The host's `pip list --format=freeze`, as the original scanned it; no pip on PATH is not an error. */
export async function hostPins(env: NodeJS.ProcessEnv): Promise<HostPins> {
  const pip = onPath('pip', env);
  if (!pip) return { found: false, reason: 'no pip on PATH' };
  const { $ } = require('zx') as typeof import('zx');
  const run = await $({ env, nothrow: true, quiet: true })`${pip} list --format=freeze --disable-pip-version-check`;
  if (run.exitCode !== 0) {
    const why = run.stderr.trim().split('\n').pop() || `exit ${run.exitCode}`;
    throw failure(`host: pip list --format=freeze failed: ${why}`);
  }
  return { found: true, pins: readRequirements(run.stdout, HOST_SPEC) };
}

// ---- matching

export interface DependencyFinding {
  package: string;
  version: string;
  /** pip or conda (conda only with condaAsPyPI). */
  section: PinSection;
  id: string;
  aliases: string[];
  severity: string;
  /** Versions that fix it, from the range the version falls in. */
  fixed: string[];
  summary?: string;
}

export interface SpecResult {
  spec: string;
  /** Pinned packages read (every section). */
  packages: number;
  /** Pinned packages OSV has no ecosystem for: conda (unless condaAsPyPI) and apt. */
  notCovered: number;
  unpinned: string[];
  skipped: string[];
  findings: DependencyFinding[];
  ignored: (DependencyFinding & { rule: string })[];
}

export interface DependencyScan {
  specs: SpecResult[];
  staleIgnores: IgnoreRule[];
  expiredIgnores: IgnoreRule[];
  summary: { specs: number; packages: number; findings: number; ignored: number; staleIgnores: number; expiredIgnores: number; notCovered: number; unpinned: number };
}

export interface ScanOptions {
  /** Look conda packages up as PyPI ones (see osvQueryOf); off: they count as not covered. */
  condaAsPyPI?: boolean;
  today?: Date;
}

/**
 * Every spec matched, whatever the others found (the original stopped at the first failing
 * one); one lookup for every distinct package version of all specs. Ignores are applied across
 * all specs, so a rule is stale only when it matched nothing anywhere.
 */
export async function scanDependencies(specs: SpecPins[], db: AdvisoryDatabase, rules: IgnoreRule[], options: ScanOptions = {}): Promise<DependencyScan> {
  const adv = require('@imagewright/advisories') as typeof import('@imagewright/advisories');
  const queries: OsvQuery[] = [];
  const index = new Map<string, number>();
  const queryIndex = specs.map((s) =>
    s.packages.map((pkg) => {
      const type = pkg.section === 'pip' ? 'pypi' : pkg.section === 'conda' ? 'conda' : 'deb';
      // apt pins carry no distro release: OSV's Debian ecosystem cannot be asked (image-scan covers them).
      const query = adv.osvQueryOf({ type, name: pkg.name, version: pkg.version }, undefined, { condaAsPyPI: options.condaAsPyPI });
      if (!query) return undefined;
      const key = `${query.ecosystem}\0${adv.normalizePackageName(query.ecosystem, query.name)}\0${query.version}`;
      if (!index.has(key)) {
        index.set(key, queries.length);
        queries.push(query);
      }
      return index.get(key)!;
    }),
  );
  const answers = queries.length ? await db.query(queries) : [];

  const all: { spec: number; finding: DependencyFinding }[] = [];
  specs.forEach((s, i) =>
    s.packages.forEach((pkg, j) => {
      const q = queryIndex[i][j];
      if (q === undefined) return;
      for (const record of answers[q] ?? []) {
        const hit = adv.affects(record, queries[q]);
        if (!hit) continue;
        all.push({
          spec: i,
          finding: {
            package: pkg.name,
            version: pkg.version,
            section: pkg.section,
            id: record.id,
            aliases: (record.aliases ?? []).filter((a) => a !== record.id),
            severity: adv.severityOf(record, hit.affected[0]),
            fixed: hit.fixed,
            ...(record.summary ? { summary: record.summary } : {}),
          },
        });
      }
    }),
  );
  const outcome = adv.applyIgnores(
    all.map((x) => ({ ...x, id: x.finding.id, aliases: x.finding.aliases })),
    rules,
    options.today,
  );
  const results: SpecResult[] = specs.map((s, i) => ({
    spec: s.spec,
    packages: s.packages.length,
    notCovered: queryIndex[i].filter((q) => q === undefined).length,
    unpinned: s.unpinned,
    skipped: s.skipped,
    findings: outcome.kept.filter((x) => x.spec === i).map((x) => x.finding),
    ignored: outcome.ignored.filter(({ item }) => item.spec === i).map(({ item, rule }) => ({ ...item.finding, rule: rule.where })),
  }));
  const sum = (f: (r: SpecResult) => number) => results.reduce((n, r) => n + f(r), 0);
  return {
    specs: results,
    staleIgnores: outcome.stale,
    expiredIgnores: outcome.expired,
    summary: {
      specs: results.length,
      packages: sum((r) => r.packages),
      findings: sum((r) => r.findings.length),
      ignored: sum((r) => r.ignored.length),
      staleIgnores: outcome.stale.length,
      expiredIgnores: outcome.expired.length,
      notCovered: sum((r) => r.notCovered),
      unpinned: sum((r) => r.unpinned.length),
    },
  };
}

/** `N specs, M packages, K findings, I ignored, S stale ignores` (+ what was not matched). */
export function summaryLine(scan: DependencyScan): string {
  const s = scan.summary;
  const n = (count: number, word: string) => `${count} ${word}${count === 1 ? '' : 's'}`;
  const parts = [n(s.specs, 'spec'), n(s.packages, 'package'), n(s.findings, 'finding'), `${s.ignored} ignored`, n(s.staleIgnores, 'stale ignore')];
  if (s.expiredIgnores) parts.push(n(s.expiredIgnores, 'expired ignore'));
  if (s.notCovered) parts.push(`${s.notCovered} not covered by OSV (conda/apt)`);
  if (s.unpinned) parts.push(`${s.unpinned} unpinned`);
  return parts.join(', ');
}
