import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { writeFileAtomic, type Deployment } from '@imagewright/core';
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
