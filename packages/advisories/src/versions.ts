/*
 * Version ordering per OSV ecosystem. Advisories state ranges in the ecosystem's own ordering, so
 * comparing `1:2.0~rc1-1` or `1.2.3_rc1-r0` as plain strings or semver would get ranges wrong.
 *
 * - PyPI: PEP 440, through @renovatebot/pep440 (epochs, pre/post/dev releases, local versions,
 *   normalisation). A version PEP 440 cannot parse falls back to the generic ordering.
 * - Debian, Ubuntu: dpkg's algorithm (deb-version(7)).
 * - Alpine: apk-tools' ordering (apk-tools 3's version.c, which 2.x agrees with on valid versions).
 * - SEMVER ranges and semver ecosystems (npm, Go, crates.io, Hex, Pub): SemVer 2.0 precedence.
 * - anything else: numeric segments compared as numbers, letters as text.
 */

export type VersionScheme = 'pep440' | 'dpkg' | 'apk' | 'semver' | 'generic';

const SEMVER_ECOSYSTEMS = new Set(['npm', 'go', 'crates.io', 'hex', 'pub']);

/** The ordering an OSV ecosystem (`Debian:12`, `PyPI`, `Alpine:v3.18`) uses. */
export function schemeOf(ecosystem: string): VersionScheme {
  const base = ecosystem.split(':')[0].trim().toLowerCase();
  if (base === 'pypi') return 'pep440';
  if (base === 'debian' || base === 'ubuntu') return 'dpkg';
  if (base === 'alpine') return 'apk';
  if (SEMVER_ECOSYSTEMS.has(base)) return 'semver';
  return 'generic';
}

/** <0, 0 or >0 as `a` sorts before, with or after `b` in the ecosystem's ordering. */
export function compareVersions(ecosystem: string, a: string, b: string): number {
  return compareWith(schemeOf(ecosystem), a, b);
}

export function compareWith(scheme: VersionScheme, a: string, b: string): number {
  switch (scheme) {
    case 'pep440':
      return comparePep440(a, b);
    case 'dpkg':
      return compareDpkg(a, b);
    case 'apk':
      return compareApk(a, b);
    case 'semver':
      return compareSemver(a, b);
    default:
      return compareGeneric(a, b);
  }
}

/** Whether the ecosystem's own rules accept the version (generic: at least one digit). */
export function isValidVersion(ecosystem: string, version: string): boolean {
  switch (schemeOf(ecosystem)) {
    case 'pep440':
      return pep440().valid(version.trim()) !== null;
    case 'dpkg':
      return parseDpkg(version) !== undefined;
    case 'apk':
      return isValidApk(version);
    case 'semver':
      return parseSemver(version) !== undefined;
    default:
      return /\d/.test(version);
  }
}

// ---- numbers as digit strings (no overflow on dates or long build numbers)

function compareDigits(a: string, b: string): number {
  const x = a.replace(/^0+/, '');
  const y = b.replace(/^0+/, '');
  if (x.length !== y.length) return x.length - y.length;
  return x < y ? -1 : x > y ? 1 : 0;
}

const sign = (n: number): number => (n < 0 ? -1 : n > 0 ? 1 : 0);

// ---- PEP 440

type Pep440 = typeof import('@renovatebot/pep440');
let pep440Module: Pep440 | undefined;
function pep440(): Pep440 {
  return (pep440Module ??= require('@renovatebot/pep440') as Pep440);
}

export function comparePep440(a: string, b: string): number {
  const p = pep440();
  const x = a.trim();
  const y = b.trim();
  if (p.valid(x) !== null && p.valid(y) !== null) return sign(p.compare(x, y));
  return compareGeneric(x, y);
}

// ---- dpkg (deb-version(7), lib/dpkg/version.c)

export interface DpkgVersion {
  epoch: string;
  upstream: string;
  revision: string;
}

/** Splits `[epoch:]upstream[-revision]` as dpkg does; undefined when dpkg would refuse it. */
export function parseDpkg(version: string): DpkgVersion | undefined {
  const v = version.trim();
  if (v === '' || /\s/.test(v)) return undefined;
  const colon = v.indexOf(':');
  const epoch = colon >= 0 ? v.slice(0, colon) : '0';
  if (!/^\d+$/.test(epoch) || epoch.length > 9) return undefined;
  const rest = colon >= 0 ? v.slice(colon + 1) : v;
  const hyphen = rest.lastIndexOf('-');
  const upstream = hyphen >= 0 ? rest.slice(0, hyphen) : rest;
  const revision = hyphen >= 0 ? rest.slice(hyphen + 1) : '';
  if (upstream === '' || !/^\d/.test(upstream)) return undefined;
  if (!/^[A-Za-z0-9.+~:-]+$/.test(upstream)) return undefined;
  if (revision !== '' && !/^[A-Za-z0-9.+~]+$/.test(revision)) return undefined;
  return { epoch, upstream, revision };
}

// dpkg's order(): digits 0, letters by code, `~` before everything (even the end), others after letters.
function dpkgOrder(s: string, i: number): number {
  if (i >= s.length) return 0;
  const c = s.charCodeAt(i);
  if (c >= 48 && c <= 57) return 0;
  if ((c >= 65 && c <= 90) || (c >= 97 && c <= 122)) return c;
  if (c === 126) return -1;
  return c + 256;
}

const isDigitAt = (s: string, i: number): boolean => i < s.length && s.charCodeAt(i) >= 48 && s.charCodeAt(i) <= 57;

function verrevcmp(a: string, b: string): number {
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    while ((i < a.length && !isDigitAt(a, i)) || (j < b.length && !isDigitAt(b, j))) {
      const ac = dpkgOrder(a, i);
      const bc = dpkgOrder(b, j);
      if (ac !== bc) return ac - bc;
      i++;
      j++;
    }
    while (a[i] === '0') i++;
    while (b[j] === '0') j++;
    let firstDiff = 0;
    while (isDigitAt(a, i) && isDigitAt(b, j)) {
      if (!firstDiff) firstDiff = a.charCodeAt(i) - b.charCodeAt(j);
      i++;
      j++;
    }
    if (isDigitAt(a, i)) return 1;
    if (isDigitAt(b, j)) return -1;
    if (firstDiff) return firstDiff;
  }
  return 0;
}

export function compareDpkg(a: string, b: string): number {
  // dpkg refuses unparsable versions; comparing them as one upstream part keeps ordering total.
  const x = parseDpkg(a) ?? { epoch: '0', upstream: a.trim(), revision: '' };
  const y = parseDpkg(b) ?? { epoch: '0', upstream: b.trim(), revision: '' };
  return sign(compareDigits(x.epoch, y.epoch) || verrevcmp(x.upstream, y.upstream) || verrevcmp(x.revision, y.revision));
}

// ---- apk (apk-tools src/version.c: digit{.digit}...{letter}{_suf{#}}...{~hash}{-r#})

const enum Tok {
  InitialDigit,
  Digit,
  Letter,
  Suffix,
  SuffixNo,
  CommitHash,
  RevisionNo,
  End,
  Invalid,
}

// Pre-release suffixes sort before no suffix, post-release ones after.
const APK_SUFFIXES: Record<string, number> = { alpha: 0, beta: 1, pre: 2, rc: 3, cvs: 5, svn: 6, git: 7, hg: 8, p: 9 };
const APK_SUFFIX_NONE = 4;

interface ApkToken {
  token: Tok;
  value: string;
  suffix: number;
}

class ApkTokens {
  private pos = 0;
  readonly t: ApkToken = { token: Tok.InitialDigit, value: '', suffix: -1 };
  constructor(private readonly s: string) {
    this.digits();
  }

  private digits(): void {
    const m = /^\d*/.exec(this.s.slice(this.pos))![0];
    this.pos += m.length;
    this.t.value = m;
    if (m === '') this.t.token = Tok.Invalid;
  }

  next(): void {
    const t = this.t;
    if (this.pos >= this.s.length) {
      t.token = Tok.End;
      return;
    }
    const c = this.s[this.pos];
    if (c >= 'a' && c <= 'z') {
      if (t.token > Tok.Digit) return this.invalid();
      t.value = c;
      t.token = Tok.Letter;
      this.pos++;
    } else if (c === '.' || (c >= '0' && c <= '9')) {
      if (c === '.') {
        if (t.token > Tok.Digit) return this.invalid();
        this.pos++;
      }
      if (t.token === Tok.InitialDigit || t.token === Tok.Digit) t.token = Tok.Digit;
      else if (t.token === Tok.Suffix) t.token = Tok.SuffixNo;
      else return this.invalid();
      this.digits();
    } else if (c === '_') {
      if (t.token > Tok.SuffixNo) return this.invalid();
      this.pos++;
      const m = /^[a-z]*/.exec(this.s.slice(this.pos))![0];
      this.pos += m.length;
      t.value = m;
      const suffix = APK_SUFFIXES[m];
      if (suffix === undefined) return this.invalid();
      t.suffix = suffix;
      t.token = Tok.Suffix;
    } else if (c === '~') {
      if (t.token >= Tok.CommitHash) return this.invalid();
      this.pos++;
      const m = /^[0-9a-f]*/.exec(this.s.slice(this.pos))![0];
      this.pos += m.length;
      if (m === '') return this.invalid();
      t.value = m;
      t.token = Tok.CommitHash;
    } else if (c === '-') {
      if (t.token >= Tok.RevisionNo || this.s[this.pos + 1] !== 'r') return this.invalid();
      this.pos += 2;
      t.token = Tok.RevisionNo;
      this.digits();
    } else {
      this.invalid();
    }
  }

  private invalid(): void {
    this.t.token = Tok.Invalid;
  }
}

function apkTokenCompare(a: ApkToken, b: ApkToken): number {
  switch (a.token) {
    case Tok.Digit:
      // A leading zero makes it a string comparison, as Gentoo's rules (1.01 < 1.1, 1.001 < 1.01).
      if (a.value[0] === '0' || b.value[0] === '0') return a.value < b.value ? -1 : a.value > b.value ? 1 : 0;
      return compareDigits(a.value, b.value);
    case Tok.InitialDigit:
    case Tok.SuffixNo:
    case Tok.RevisionNo:
      return compareDigits(a.value, b.value);
    case Tok.Letter:
      return a.value < b.value ? -1 : a.value > b.value ? 1 : 0;
    case Tok.Suffix:
      return a.suffix - b.suffix;
    default:
      return a.value < b.value ? -1 : a.value > b.value ? 1 : 0;
  }
}

export function compareApk(a: string, b: string): number {
  const ta = new ApkTokens(a.trim());
  const tb = new ApkTokens(b.trim());
  while (ta.t.token === tb.t.token && ta.t.token < Tok.End) {
    const r = apkTokenCompare(ta.t, tb.t);
    if (r !== 0) return sign(r);
    ta.next();
    tb.next();
  }
  const x = ta.t;
  const y = tb.t;
  if (x.token === y.token) return 0;
  // Equal so far: the longer one is newer unless what follows is a pre-release suffix.
  if (x.token === Tok.Suffix && x.suffix < APK_SUFFIX_NONE) return -1;
  if (y.token === Tok.Suffix && y.suffix < APK_SUFFIX_NONE) return 1;
  return x.token > y.token ? -1 : y.token > x.token ? 1 : 0;
}

export function isValidApk(version: string): boolean {
  const t = new ApkTokens(version);
  while (t.t.token < Tok.End) t.next();
  return t.t.token === Tok.End;
}

// ---- SemVer 2.0 precedence

interface Semver {
  core: [string, string, string];
  pre: string[];
}

function parseSemver(version: string): Semver | undefined {
  const m = /^v?(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?(?:\+[0-9A-Za-z.-]+)?$/.exec(version.trim());
  if (!m) return undefined;
  return { core: [m[1], m[2], m[3]], pre: m[4] ? m[4].split('.') : [] };
}

export function compareSemver(a: string, b: string): number {
  const x = parseSemver(a);
  const y = parseSemver(b);
  if (!x || !y) return compareGeneric(a, b);
  for (let i = 0; i < 3; i++) {
    const r = compareDigits(x.core[i], y.core[i]);
    if (r) return sign(r);
  }
  // A pre-release sorts before the release; identifiers compare numerically or as ASCII.
  if (!x.pre.length || !y.pre.length) return x.pre.length ? -1 : y.pre.length ? 1 : 0;
  for (let i = 0; i < Math.min(x.pre.length, y.pre.length); i++) {
    const p = x.pre[i];
    const q = y.pre[i];
    const pn = /^\d+$/.test(p);
    const qn = /^\d+$/.test(q);
    if (pn && qn) {
      const r = compareDigits(p, q);
      if (r) return sign(r);
    } else if (pn !== qn) {
      return pn ? -1 : 1;
    } else if (p !== q) {
      return p < q ? -1 : 1;
    }
  }
  return sign(x.pre.length - y.pre.length);
}

// ---- the fallback: 1.10 > 1.9, 1.0 > 1.0rc1, 1.0.1 > 1.0

export function compareGeneric(a: string, b: string): number {
  const x = a.trim().replace(/^v(?=\d)/, '').match(/\d+|[A-Za-z]+/g) ?? [];
  const y = b.trim().replace(/^v(?=\d)/, '').match(/\d+|[A-Za-z]+/g) ?? [];
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const p = x[i];
    const q = y[i];
    // A trailing word (rc, beta) marks a pre-release, a trailing number a later release.
    if (p === undefined) return /^\d/.test(q) ? -1 : 1;
    if (q === undefined) return /^\d/.test(p) ? 1 : -1;
    const pn = /^\d/.test(p);
    const qn = /^\d/.test(q);
    if (pn && qn) {
      const r = compareDigits(p, q);
      if (r) return sign(r);
    } else if (pn !== qn) {
      return pn ? 1 : -1;
    } else {
      const r = p.toLowerCase().localeCompare(q.toLowerCase(), 'en');
      if (r) return sign(r);
    }
  }
  return 0;
}
