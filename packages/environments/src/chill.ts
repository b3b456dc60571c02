import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { usageError, writeFileAtomic, type Deployment } from '@imagewright/core';
import { specFiles } from './layout';

/*
 * image-chill: the USE_FROZEN=2 "chilly" specs are the frozen ones with x.y.z pins loosened to
 * compatible releases (~=). These are the original's perl substitutions, line by line, first match
 * only (no /g). The `s` flag makes `.` match like perl's on a line (a \r included).
 */
const CONDA = /^(  -.*)=(\d+\.\d+\.\d+)/s; // s/^(  -.*)=(\d+\.\d+\.\d+)/\1~=\2/
const PIP = /==(\d+\.\d+\.\d+)/; //           s/==(\d+\.\d+\.\d+)/~=\1/
/** `  - name=version` in apt: Debian has no ~=, and a stable suite only carries compatible updates anyway. */
const APT_PIN = /^(\s+-\s+[^\s=#'"]+)=[^\s#]+/;
/** A line starting a top-level key (not an indented item, a comment or a blank line). */
const TOP_LEVEL_KEY = /^[^\s#-]/;

/** Chills a conda-shape spec; everything but the pins stays byte for byte. */
export function chillText(text: string): string {
  let inApt = false;
  return text
    .split('\n')
    .map((line) => {
      if (TOP_LEVEL_KEY.test(line)) inApt = /^apt\s*:/.test(line);
      return inApt ? line.replace(APT_PIN, '$1') : line.replace(CONDA, '$1~=$2').replace(PIP, '~=$1');
    })
    .join('\n');
}

/** Chills a pip requirements.txt (pip-compile output). */
export function chillRequirements(text: string): string {
  return text
    .split('\n')
    .map((line) => line.replace(PIP, '~=$1'))
    .join('\n');
}

/*
 * What `image-chill FILE|-` accepts. The rewrites above are line by line and would echo anything
 * else back unchanged, so the input is checked first: a conda-export YAML in the block shape conda
 * writes (the frozen files), or a pip requirements file (pip-compile output). The two never
 * overlap: `name: x` is not a requirement, and a requirement is not a YAML mapping.
 */
const ALLOWED = 'allowed a frozen conda-export YAML (name, channels, dependencies, apt, prefix) or a pip requirements file';
const EXPORT_KEYS = ['name', 'channels', 'dependencies', 'apt', 'prefix'];

/** The first wrong line of an input: 1-based, as an editor counts. */
interface Wrong {
  line: number;
  reason: string;
}

// PEP 508 as pip reads a requirements line; markers are left to pip.
const NAME = '[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?';
const EXTRAS = `\\[\\s*(?:${NAME}(?:\\s*,\\s*${NAME})*)?\\s*\\]`;
const VERSION = '(?:===|==|!=|<=|>=|~=|<|>)\\s*[A-Za-z0-9_.*+!-]+';
const VERSIONS = `${VERSION}(?:\\s*,\\s*${VERSION})*`;
const REQ_OPTIONS = '(?:\\s+--?[A-Za-z][\\w-]*(?:[= ]\\S+)?)*'; // --hash=sha256:…
const REQUIREMENT = new RegExp(
  `^${NAME}\\s*(?:${EXTRAS})?\\s*(?:${VERSIONS}|\\(\\s*${VERSIONS}\\s*\\)|@\\s*\\S+)?\\s*(?:;.*?)?${REQ_OPTIONS}\\s*$`,
);
/** A URL, a path or an archive instead of a name (pip installs those too). */
const DIRECT = new RegExp(`^(?:[A-Za-z][A-Za-z0-9+.-]*://\\S+|\\.{0,2}/\\S*|\\S+\\.(?:whl|tar\\.gz|tgz|tar\\.bz2|zip))\\s*(?:;.*?)?${REQ_OPTIONS}\\s*$`);
/** An option line: -r other.txt, --index-url URL, -e git+…, --no-binary :all: */
const OPTION = /^--?[A-Za-z][\w-]*(?:[=\s].*)?$/;

/** The first line that is not part of a pip requirements file (pip's comment and `\\` rules). */
function wrongRequirement(text: string): Wrong | undefined {
  const lines = text.split(/\r?\n/);
  for (let n = 0; n < lines.length; n++) {
    const first = n;
    let line = lines[n]!;
    while (line.endsWith('\\') && n + 1 < lines.length) line = line.slice(0, -1) + lines[++n];
    const spec = line.replace(/(^|\s)#.*$/, '').trim();
    if (spec === '' || OPTION.test(spec) || REQUIREMENT.test(spec) || DIRECT.test(spec)) continue;
    return { line: first + 1, reason: 'not a pip requirement' };
  }
  return undefined;
}

type Yaml = typeof import('yaml');
type YamlNode = import('yaml').Node;

/** The first line that is not part of a conda-export YAML, or undefined when the text is one. */
function wrongExport(text: string): (Wrong & { yamlish: boolean }) | undefined {
  // Loaded on first use: only image-chill FILE needs the parser.
  const YAML = require('yaml') as Yaml;
  const counter = new YAML.LineCounter();
  const doc = YAML.parseDocument(text, { lineCounter: counter });
  // A YAML syntax error matters only when the text means to be YAML (a `key:` line somewhere).
  const keyLine = /^[^\s#-][^:#]*:(\s|$)/m.test(text);
  if (doc.errors.length > 0) {
    const error = doc.errors[0]!;
    return { line: error.linePos?.[0].line ?? 1, reason: `not valid YAML (${error.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '')})`, yamlish: keyLine };
  }
  const lineOf = (node: YamlNode | null | undefined) => (node?.range ? counter.linePos(node.range[0]).line : 1);
  const contents = doc.contents;
  const wrong = (node: YamlNode | null | undefined, reason: string) => ({ line: lineOf(node), reason, yamlish: true });
  if (!YAML.isMap(contents)) return { ...wrong(contents, 'not a YAML mapping'), yamlish: YAML.isSeq(contents) };
  if (contents.flow) return wrong(contents, 'a flow mapping ({…}), not the block YAML conda writes');
  const strings = (value: unknown, what: string, pipAllowed: boolean): ReturnType<typeof wrong> | undefined => {
    if (value === null || value === undefined || (YAML.isScalar(value) && value.value === null)) return undefined;
    if (!YAML.isSeq(value)) return wrong(value as YamlNode, `${what} is not a list`);
    if (value.flow && value.items.length > 0) return wrong(value, `${what} is a flow list ([…]), not the block YAML conda writes`);
    for (const item of value.items) {
      if (YAML.isScalar(item) && typeof item.value === 'string' && item.value !== '') continue;
      if (pipAllowed && YAML.isMap(item) && item.items.length === 1 && YAML.isScalar(item.items[0]!.key) && item.items[0]!.key.value === 'pip') {
        const inner = strings(item.items[0]!.value, 'pip', false);
        if (inner) return inner;
        continue;
      }
      return wrong(item as YamlNode, `a ${what} item that is not ${pipAllowed ? 'a package or {pip: [...]}' : 'a package string'}`);
    }
    return undefined;
  };
  let named = false;
  for (const pair of contents.items) {
    const key = YAML.isScalar(pair.key) ? pair.key.value : undefined;
    if (typeof key !== 'string' || !EXPORT_KEYS.includes(key)) return wrong(pair.key as YamlNode, `unknown key ${JSON.stringify(key ?? String(pair.key))}`);
    const value = pair.value;
    if (key === 'name' || key === 'prefix') {
      if (!YAML.isScalar(value) || typeof value.value !== 'string' || value.value === '') return wrong((value ?? pair.key) as YamlNode, `${key} is not a string`);
      named ||= key === 'name';
    } else {
      const bad = strings(value, key, key === 'dependencies');
      if (bad) return bad;
    }
  }
  if (!named) return wrong(contents, 'no name: key');
  return undefined;
}

/**
 * The chill for a text given on the command line (`input` names it: a file or `-`): pip rules for
 * a requirements file, conda rules for an environment YAML; anything else is a usage error naming
 * the input, its first wrong line and what is allowed.
 */
export function chillInput(text: string, input: string): string {
  const requirement = wrongRequirement(text);
  if (!requirement) return chillRequirements(text);
  const yaml = wrongExport(text);
  if (!yaml) return chillText(text);
  const { line, reason } = yaml.yamlish ? yaml : requirement;
  const content = (text.split(/\r?\n/)[line - 1] ?? '').trim();
  const shown = content.length > 60 ? `${content.slice(0, 57)}...` : content;
  throw usageError(`${input}: line ${line} (${JSON.stringify(shown)}): ${reason}: ${ALLOWED}`);
}

export interface ChillResult {
  environment: string;
  from: string;
  to: string;
  status: 'written' | 'unchanged' | 'missing';
}

/**
 * One result per spec file: the frozen YAML of every environment (status 'missing' when it was
 * never frozen) and, in the env-frozen layout, its requirements.txt when there is one.
 */
export function chillDeployment(d: Deployment): ChillResult[] {
  const results: ChillResult[] = [];
  for (const environment of d.environments) {
    const files = specFiles(d, environment);
    results.push(chillFile(environment, files.frozen, files.chilly, chillText));
    if (files.frozenTxt && files.chillyTxt && existsSync(files.frozenTxt)) {
      results.push(chillFile(environment, files.frozenTxt, files.chillyTxt, chillRequirements));
    }
  }
  return results;
}

function chillFile(environment: string, from: string, to: string, chill: (text: string) => string): ChillResult {
  if (!existsSync(from)) return { environment, from, to, status: 'missing' };
  const text = chill(readFileSync(from, 'utf8'));
  // Unchanged files keep their mtime: no rebuild is triggered by a no-op chill.
  if (existsSync(to) && readFileSync(to, 'utf8') === text) return { environment, from, to, status: 'unchanged' };
  mkdirSync(dirname(to), { recursive: true });
  writeFileAtomic(to, text);
  return { environment, from, to, status: 'written' };
}
