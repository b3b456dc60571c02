import { failure } from '@imagewright/core';

/**
 * The YAML of `conda env export --no-build`, which is also the format of every frozen and chilly
 * spec. Non-conda environments add a top-level `apt:` list of Debian `name=version` pins.
 */
export type Dependency = string | { pip: string[] };

export interface EnvironmentExport {
  name: string;
  /** How the environment is managed; not part of the file (exports carry it, parsed files don't). */
  kind?: 'conda' | 'venv' | 'system';
  channels: string[];
  dependencies: Dependency[];
  apt?: string[];
  prefix?: string;
}

export interface Pin {
  section: 'conda' | 'pip' | 'apt';
  name: string;
  version: string;
}

type Yaml = typeof import('yaml');
// Loaded on first use: most commands never touch a spec and startup time matters.
const loadYaml = (): Yaml => require('yaml') as Yaml;

/** A scalar as conda (PyYAML) writes it: plain unless YAML needs quotes, then single quotes if possible. */
function scalar(YAML: Yaml, value: string): string {
  const text = YAML.stringify(value, { lineWidth: 0, singleQuote: true, blockQuote: false }).slice(0, -1);
  // A quoted scalar that spans lines would break the list layout: escape it onto one line instead.
  return text.includes('\n') ? YAML.stringify(value, { lineWidth: 0, defaultStringType: 'QUOTE_DOUBLE' }).slice(0, -1) : text;
}

/** The text conda itself would write: byte-identical round trips keep frozen-file diffs to real changes. */
export function renderExport(e: EnvironmentExport): string {
  const YAML = loadYaml();
  const items = (indent: string, values: string[]) => values.map((v) => `${indent}- ${scalar(YAML, v)}\n`).join('');
  const list = (key: string, values: string[]) => (values.length === 0 ? `${key}: []\n` : `${key}:\n${items('  ', values)}`);

  let out = `name: ${scalar(YAML, e.name)}\n`;
  out += list('channels', e.channels);
  if (e.dependencies.length === 0) out += 'dependencies: []\n';
  else {
    out += 'dependencies:\n';
    for (const d of e.dependencies) {
      if (typeof d === 'string') out += `  - ${scalar(YAML, d)}\n`;
      else out += d.pip.length === 0 ? '  - pip: []\n' : `  - pip:\n${items('    ', d.pip)}`;
    }
  }
  if (e.apt !== undefined) out += list('apt', e.apt);
  if (e.prefix !== undefined) out += `prefix: ${scalar(YAML, e.prefix)}\n`;
  return out;
}

const KEYS = ['name', 'channels', 'dependencies', 'apt', 'prefix'];
const EXPECTED = `a conda env export: a mapping with ${KEYS.join(', ')}; dependencies are strings and one {pip: [strings]}`;

export function parseExport(text: string, file: string): EnvironmentExport {
  const YAML = loadYaml();
  let doc: unknown;
  try {
    doc = YAML.parse(text);
  } catch (error) {
    throw failure(`${file}: not valid YAML (${(error as Error).message.split('\n')[0]}): expected ${EXPECTED}`, error);
  }
  const bad = (what: string) => failure(`${file}: ${what}: expected ${EXPECTED}`);
  const isMapping = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  const strings = (value: unknown, path: string): string[] => {
    if (value === undefined || value === null) return [];
    if (!Array.isArray(value)) throw bad(`${path} is not a list`);
    value.forEach((v, i) => {
      if (typeof v !== 'string' || v === '') throw bad(`${path}[${i}] is not a non-empty string`);
    });
    return value as string[];
  };

  if (!isMapping(doc)) throw bad('not a mapping');
  for (const key of Object.keys(doc)) if (!KEYS.includes(key)) throw bad(`unknown key ${key}`);
  if (typeof doc.name !== 'string' || doc.name === '') throw bad('name is not a non-empty string');
  if (doc.dependencies !== undefined && doc.dependencies !== null && !Array.isArray(doc.dependencies)) {
    throw bad('dependencies is not a list');
  }
  const dependencies: Dependency[] = ((doc.dependencies ?? []) as unknown[]).map((d, i) => {
    if (typeof d === 'string' && d !== '') return d;
    if (isMapping(d) && Object.keys(d).length === 1 && 'pip' in d) return { pip: strings(d.pip, `dependencies[${i}].pip`) };
    throw bad(`dependencies[${i}] is neither a string nor {pip: [...]}`);
  });
  if (doc.prefix !== undefined && typeof doc.prefix !== 'string') throw bad('prefix is not a string');

  const e: EnvironmentExport = { name: doc.name, channels: strings(doc.channels, 'channels'), dependencies };
  if (doc.apt !== undefined) e.apt = strings(doc.apt, 'apt');
  if (doc.prefix !== undefined) e.prefix = doc.prefix;
  return e;
}

/** Every pinned package, keyed `section:lowercased-name` (later entries win). */
export function pins(e: EnvironmentExport): Map<string, Pin> {
  const out = new Map<string, Pin>();
  const add = (pin: Pin) => out.set(`${pin.section}:${pin.name.toLowerCase()}`, pin);
  for (const d of e.dependencies) {
    if (typeof d === 'string') add(condaPin(d));
    else for (const line of d.pip) add(pipPin(line));
  }
  for (const line of e.apt ?? []) add(aptPin(line));
  return out;
}

/** `[channel::]name=ver[=build]`; the version keeps the build, so a rebuild shows as a change. */
function condaPin(spec: string): Pin {
  const m = /^(?:[^\s:]+::)?([^\s=<>!~]+)\s*(.*)$/s.exec(spec.trim());
  return { section: 'conda', name: m?.[1] ?? spec, version: (m?.[2] ?? '').replace(/^==?(?!=)/, '') };
}

/** `Name==ver`, `name @ url` (the url is the version), or an option line such as `-e ...` (the line is the name). */
function pipPin(line: string): Pin {
  const spec = line.trim();
  if (spec.startsWith('-')) return { section: 'pip', name: spec, version: '' };
  const m = /^([^\s=<>!~;@[]+(?:\[[^\]]*\])?)\s*(.*)$/s.exec(spec);
  const rest = m?.[2] ?? '';
  return { section: 'pip', name: m?.[1] ?? spec, version: rest.startsWith('@') ? rest.slice(1).trim() : rest.replace(/^==(?!=)/, '') };
}

/** Debian `name[:arch]=version`. */
function aptPin(spec: string): Pin {
  const at = spec.indexOf('=');
  return at < 0 ? { section: 'apt', name: spec.trim(), version: '' } : { section: 'apt', name: spec.slice(0, at).trim(), version: spec.slice(at + 1).trim() };
}
