/*
 * Go's text forms of numbers, booleans and times, as sops (a Go program) writes and reads them. The
 * MAC is a hash over these texts, so "1.0" must become "1" here exactly as it does in sops.
 */

/** The shortest digits that round-trip and the decimal point's position (0.012 → "12", -1). */
function shortestDigits(v: number): { digits: string; point: number } {
  const [mantissa, exponent] = Math.abs(v).toExponential().split('e');
  const digits = mantissa.replace('.', '');
  return { digits, point: Number(exponent) + 1 };
}

function special(v: number, inf: string, negInf: string, nan: string): string | undefined {
  if (Number.isNaN(v)) return nan;
  if (v === Infinity) return inf;
  if (v === -Infinity) return negInf;
  return undefined;
}

function sign(v: number): string {
  return v < 0 || Object.is(v, -0) ? '-' : '';
}

/** %f digits: no exponent. */
function fixed(digits: string, point: number): string {
  if (digits === '0') return '0';
  if (point <= 0) return `0.${'0'.repeat(-point)}${digits}`;
  if (point >= digits.length) return digits + '0'.repeat(point - digits.length);
  return `${digits.slice(0, point)}.${digits.slice(point)}`;
}

/** %e digits with Go's at-least-two-digit exponent. */
function exponential(digits: string, point: number): string {
  const exp = point - 1;
  const mantissa = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
  const e = Math.abs(exp).toString().padStart(2, '0');
  return `${mantissa}e${exp < 0 ? '-' : '+'}${e}`;
}

/** strconv.FormatFloat(v, 'f', -1, 64): how sops encrypts and MACs a float. */
export function formatFloatF(v: number): string {
  const s = special(v, '+Inf', '-Inf', 'NaN');
  if (s) return s;
  const { digits, point } = shortestDigits(v);
  return sign(v) + fixed(digits, point);
}

/** strconv.FormatFloat(v, 'g', -1, 64): how yaml.v3 writes a float (Inf/NaN in YAML spelling). */
export function formatFloatYaml(v: number): string {
  const s = special(v, '.inf', '-.inf', '.nan');
  if (s) return s;
  if (v === 0) return sign(v) + '0';
  const { digits, point } = shortestDigits(v);
  const exp = point - 1;
  return sign(v) + (exp < -4 || exp >= 6 ? exponential(digits, point) : fixed(digits, point));
}

/** encoding/json's float form ('f', or 'e' below 1e-6 and from 1e21, exponent without padding). */
export function formatFloatJson(v: number): string {
  if (!Number.isFinite(v)) throw new RangeError(`json: unsupported value: ${formatFloatF(v)}`);
  const abs = Math.abs(v);
  if (abs !== 0 && (abs < 1e-6 || abs >= 1e21)) return String(v).replace(/e([+-])0*(\d)/, 'e$1$2');
  return formatFloatF(v);
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/** strconv.Atoi: an optional sign and decimal digits, within 64 bits. */
export function parseAtoi(text: string): bigint | undefined {
  if (!/^[+-]?\d+$/.test(text)) return undefined;
  const v = BigInt(text);
  return v < INT64_MIN || v > INT64_MAX ? undefined : v;
}

/** An integer literal as strconv.ParseInt(text, 0, …) reads it (base prefixes, leading-0 octal), unbounded. */
function parseBase0(text: string): bigint | undefined {
  const m = /^([+-]?)(0[xX][0-9a-fA-F_]+|0[oO][0-7_]+|0[bB][01_]+|0[0-7_]*|[1-9][0-9_]*)$/.exec(text);
  if (!m || !underscoresOk(m[2])) return undefined;
  let body = m[2].replace(/_/g, '');
  if (/^0[0-7]+$/.test(body)) body = `0o${body.slice(1)}`;
  return BigInt(body.toLowerCase()) * (m[1] === '-' ? -1n : 1n);
}

/** strconv.ParseInt(text, 0, 64). */
export function parseGoInt(text: string): bigint | undefined {
  const v = parseBase0(text);
  return v === undefined || v < INT64_MIN || v > INT64_MAX ? undefined : v;
}

/** strconv.ParseUint(text, 0, 64). */
export function parseGoUint(text: string): bigint | undefined {
  const v = /^[+-]/.test(text) ? undefined : parseBase0(text);
  return v === undefined || v >= 2n ** 64n ? undefined : v;
}

/** Go's rule: an underscore only between digits (or after a base prefix). */
function underscoresOk(literal: string): boolean {
  if (!literal.includes('_')) return true;
  return !/__|_$|^_/.test(literal.replace(/^0[xXoObB]/, '0'));
}

/** strconv.ParseFloat(text, 64) for decimal forms, hex mantissas and inf/nan spellings. */
export function parseGoFloat(text: string): number | undefined {
  const lower = text.toLowerCase();
  const inf = /^([+-]?)(inf|infinity)$/.exec(lower);
  if (inf) return inf[1] === '-' ? -Infinity : Infinity;
  if (lower === 'nan') return NaN;
  if (!underscoresOk(text)) return undefined;
  const plain = text.replace(/_/g, '');
  if (/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(plain)) {
    const v = Number(plain);
    // Out of range is an error in Go, not an infinity.
    return Number.isFinite(v) ? v : undefined;
  }
  const hex = /^([+-]?)0[xX]([0-9a-fA-F]*)\.?([0-9a-fA-F]*)[pP]([+-]?\d+)$/.exec(plain);
  if (hex && (hex[2] || hex[3])) {
    const mantissa = parseInt(hex[2] + hex[3] || '0', 16) / 16 ** hex[3].length;
    return (hex[1] === '-' ? -1 : 1) * mantissa * 2 ** Number(hex[4]);
  }
  return undefined;
}

/** strconv.ParseBool. */
export function parseGoBool(text: string): boolean | undefined {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(text)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(text)) return false;
  return undefined;
}

interface Clock {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
  /** Fraction digits as written (up to 9 count). */
  fraction: string;
  /** Minutes east of UTC. */
  offset: number;
}

function validClock(c: Clock): boolean {
  const daysIn = new Date(Date.UTC(c.year, c.month, 0)).getUTCDate();
  return c.month >= 1 && c.month <= 12 && c.day >= 1 && c.day <= daysIn && c.hour < 24 && c.minute < 60 && c.second < 60;
}

function zone(offset: number): string {
  if (offset === 0) return 'Z';
  const abs = Math.abs(offset);
  return `${offset < 0 ? '-' : '+'}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
}

function pad(n: number, width = 2): string {
  return String(n).padStart(width, '0');
}

/** time.Time.MarshalText (RFC3339Nano): nanoseconds with trailing zeros trimmed. */
function marshalClock(c: Clock): string {
  const frac = c.fraction.slice(0, 9).replace(/0+$/, '');
  return `${pad(c.year, 4)}-${pad(c.month)}-${pad(c.day)}T${pad(c.hour)}:${pad(c.minute)}:${pad(c.second)}${frac ? '.' + frac : ''}${zone(c.offset)}`;
}

function parseZone(text: string | undefined): number {
  if (!text || text === 'Z') return 0;
  const sign = text[0] === '-' ? -1 : 1;
  return sign * (Number(text.slice(1, 3)) * 60 + Number(text.slice(4, 6)));
}

/**
 * A plain YAML scalar that yaml.v3 resolves to a timestamp (its formats: RFC 3339 with short fields,
 * "2006-1-2 15:4:5.999999999", "2006-1-2"), rendered as sops encrypts it (MarshalText).
 */
export function parseYamlTimestamp(text: string): string | undefined {
  if (!/^\d{4}-/.test(text)) return undefined;
  const full = /^(\d{4})-(\d{1,2})-(\d{1,2})[Tt](\d{1,2}):(\d{1,2}):(\d{1,2})(?:[.,](\d+))?(Z|[+-]\d{2}:\d{2})$/.exec(text);
  const spaced = /^(\d{4})-(\d{1,2})-(\d{1,2}) (\d{1,2}):(\d{1,2}):(\d{1,2})(?:[.,](\d+))?$/.exec(text);
  const date = /^(\d{4})-(\d{1,2})-(\d{1,2})$/.exec(text);
  const m = full ?? spaced ?? date;
  if (!m) return undefined;
  const clock: Clock = {
    year: Number(m[1]),
    month: Number(m[2]),
    day: Number(m[3]),
    hour: Number(m[4] ?? 0),
    minute: Number(m[5] ?? 0),
    second: Number(m[6] ?? 0),
    fraction: m[7] ?? '',
    offset: full ? parseZone(m[8]) : 0,
  };
  return validClock(clock) ? marshalClock(clock) : undefined;
}

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})$/;

function parseRfc3339(text: string): Clock | undefined {
  const m = RFC3339.exec(text);
  if (!m) return undefined;
  const clock: Clock = {
    year: Number(m[1]),
    month: Number(m[2]),
    day: Number(m[3]),
    hour: Number(m[4]),
    minute: Number(m[5]),
    second: Number(m[6]),
    fraction: m[7] ?? '',
    offset: parseZone(m[8]),
  };
  return validClock(clock) ? clock : undefined;
}

/** time.Parse(RFC3339) then Format(RFC3339): the MAC's associated data (seconds, no fraction). */
export function rfc3339Seconds(text: string): string | undefined {
  const c = parseRfc3339(text);
  return c && marshalClock({ ...c, fraction: '' });
}

/** time.Time.UnmarshalText then MarshalText: a decrypted `time` value in canonical form. */
export function rfc3339Nano(text: string): string | undefined {
  const c = parseRfc3339(text);
  return c && marshalClock(c);
}

/** time.Now().UTC().Format(RFC3339). */
export function nowRfc3339(): string {
  return new Date().toISOString().replace(/\.\d+Z$/, 'Z');
}

/** Go's string order (bytes of UTF-8), as sort.Strings sorts map keys. */
export function compareGo(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}
