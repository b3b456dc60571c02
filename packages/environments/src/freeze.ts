import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { failure, ImagewrightError, tempPathFor, usageError, type Deployment } from '@imagewright/core';
import { parseExport, pins, renderExport, type EnvironmentExport, type Pin } from './conda-yaml';
import { specFiles } from './layout';

/** image-freeze's file side: the exports come from the image, this turns them into frozen specs. */

export interface PackageChange {
  section: 'conda' | 'pip' | 'apt';
  name: string;
  /** Absent: added. */
  from?: string;
  /** Absent: removed. */
  to?: string;
}

const SECTION_ORDER: Record<Pin['section'], number> = { conda: 0, pip: 1, apt: 2 };
const byName = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

export function diffExports(before: EnvironmentExport | undefined, after: EnvironmentExport): PackageChange[] {
  const old = before ? pins(before) : new Map<string, Pin>();
  const now = pins(after);
  const changes: PackageChange[] = [];
  for (const [key, pin] of now) {
    const was = old.get(key);
    if (!was) changes.push({ section: pin.section, name: pin.name, to: pin.version });
    else if (was.version !== pin.version) changes.push({ section: pin.section, name: pin.name, from: was.version, to: pin.version });
  }
  for (const [key, pin] of old) if (!now.has(key)) changes.push({ section: pin.section, name: pin.name, from: pin.version });
  return changes.sort((a, b) => SECTION_ORDER[a.section] - SECTION_ORDER[b.section] || byName(a.name.toLowerCase(), b.name.toLowerCase()));
}

export interface FreezePlan {
  environment: string;
  file: string;
  status: 'added' | 'changed' | 'unchanged';
  text: string;
  changes: PackageChange[];
}

/** Reads, never writes: the caller can show the plan (or stop) before writeFreeze. */
export function planFreeze(d: Deployment, exports: EnvironmentExport[]): FreezePlan[] {
  const seen = new Set<string>();
  for (const e of exports) {
    if (!d.environments.includes(e.name)) {
      throw usageError(`export ${JSON.stringify(e.name)} is not an environment of deployment ${d.name}: allowed ${d.environments.join(', ') || '(none)'}`);
    }
    if (seen.has(e.name)) throw usageError(`export ${JSON.stringify(e.name)} given twice: allowed one export per environment`);
    seen.add(e.name);
  }
  return exports.map((e): FreezePlan => {
    const file = specFiles(d, e.name).frozen;
    const text = renderExport(e);
    const plan = { environment: e.name, file, text };
    if (!existsSync(file)) return { ...plan, status: 'added', changes: diffExports(undefined, e) };
    const existing = readFileSync(file, 'utf8');
    if (existing === text) return { ...plan, status: 'unchanged', changes: [] };
    return { ...plan, status: 'changed', changes: diffExports(parsedOrUndefined(existing, file), e) };
  });
}

/** A frozen file that can't be parsed (hand-edited, conflict markers) is replaced: all its packages count as added. */
function parsedOrUndefined(text: string, file: string): EnvironmentExport | undefined {
  try {
    return parseExport(text, file);
  } catch (error) {
    if (error instanceof ImagewrightError) return undefined;
    throw error;
  }
}

/**
 * Writes every added or changed plan, all or nothing as far as the file system allows: every new
 * text goes to a temp file beside its target first, and only then are they all renamed into place.
 */
export function writeFreeze(plans: FreezePlan[]): void {
  const pending = plans
    .filter((p) => p.status !== 'unchanged')
    .map((p) => ({ file: p.file, text: p.text, temp: tempPathFor(p.file) }));
  const created: string[] = [];
  let renamed = 0;
  let current = '';
  try {
    for (const w of pending) {
      current = w.file;
      mkdirSync(dirname(w.file), { recursive: true });
      created.push(w.temp);
      writeFileSync(w.temp, w.text);
    }
    for (const w of pending) {
      current = w.file;
      renameSync(w.temp, w.file);
      renamed++;
    }
  } catch (error) {
    // Renames only start once every temp exists, so the first `renamed` temps are already gone.
    for (const temp of created.slice(renamed)) rmSync(temp, { force: true });
    throw failure(`${current}: could not write the frozen spec (${(error as Error).message}); ${renamed} of ${pending.length} frozen files replaced`, error);
  }
}

/** `numpy 1.24.2 → 1.26.4, +tinypkg 0.1.0, -six 1.16.0, … 12 more`; '' for no changes. */
export function describeChanges(changes: PackageChange[], limit = 8): string {
  const version = (v: string) => (v === '' ? '' : ` ${v}`);
  const one = (c: PackageChange) =>
    c.from === undefined ? `+${c.name}${version(c.to ?? '')}`
    : c.to === undefined ? `-${c.name}${version(c.from)}`
    : `${c.name} ${c.from || '(unpinned)'} → ${c.to || '(unpinned)'}`;
  const shown = changes.slice(0, limit).map(one);
  if (changes.length > limit) shown.push(`… ${changes.length - limit} more`);
  return shown.join(', ');
}
