import { isAbsolute, relative } from 'node:path';
import type { Writable } from 'node:stream';

/** Terminal vs pipe, colour and JSON conventions shared by all commands. */
export interface Output {
  /** stdout is a terminal: progress bars and tables; otherwise plain lines. */
  readonly tty: boolean;
  /** colour allowed: a terminal, no NO_COLOR, TERM not dumb. */
  readonly color: boolean;
  readonly json: boolean;
  readonly stdout: Writable & { isTTY?: boolean; columns?: number };
  readonly stderr: Writable & { isTTY?: boolean; columns?: number };
  /** A data line on stdout. */
  line(text?: string): void;
  /** A progress or log line on stderr (stdout stays clean for pipes). */
  info(text: string): void;
  /** A step banner on stderr. */
  step(text: string): void;
  /** A file's status line on stderr, in the one shape every command uses (see statusLine). */
  status(state: string, path: string, detail?: string): void;
  /** Pretty JSON on stdout. */
  printJson(value: unknown): void;
  /** An aligned table on stdout, like the docker CLI's. */
  table(headers: string[], rows: string[][]): void;
  bold(text: string): string;
  dim(text: string): string;
  red(text: string): string;
  green(text: string): string;
}

export function colorAllowed(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  if (env.TERM === 'dumb') return false;
  return Boolean(stream.isTTY);
}

export function createOutput(opts: { json?: boolean; env?: NodeJS.ProcessEnv; stdout?: Output['stdout']; stderr?: Output['stderr'] } = {}): Output {
  const stdout = opts.stdout ?? process.stdout;
  const stderr = opts.stderr ?? process.stderr;
  const color = colorAllowed(stderr, opts.env);
  const paint = (code: number, reset: number) => (text: string) => (color ? `\x1b[${code}m${text}\x1b[${reset}m` : text);
  const bold = paint(1, 22);
  return {
    tty: Boolean(stdout.isTTY),
    color,
    json: Boolean(opts.json),
    stdout,
    stderr,
    line: (text = '') => void stdout.write(`${text}\n`),
    info: (text) => void stderr.write(`${text}\n`),
    step: (text) => void stderr.write(`${bold(`==> ${text}`)}\n`),
    status: (state, path, detail) => void stderr.write(`${statusLine(state, path, detail)}\n`),
    printJson: (value) => void stdout.write(`${JSON.stringify(value, null, 2)}\n`),
    table: (headers, rows) => void stdout.write(formatTable(headers, rows)),
    bold,
    dim: paint(2, 22),
    red: paint(31, 39),
    green: paint(32, 39),
  };
}

/**
 * The one shape of a status line: `<state padded to 9> <path>[: detail]`, e.g.
 * `written   deployments/demo/image/Dockerfile: previous kept as Dockerfile.bak`. States are
 * single words (written, unchanged, added, changed, missing, skipped), so the paths line up.
 */
export function statusLine(state: string, path: string, detail?: string): string {
  return `${state.padEnd(9)} ${path}${detail ? `: ${detail}` : ''}`;
}

/**
 * A path as status lines show it: relative to the current directory when inside it, else to
 * `root` (the checkout) when inside that, else absolute.
 */
export function shownPath(path: string, root?: string, cwd: string = process.cwd()): string {
  const inside = (base: string) => {
    const rel = relative(base, path);
    return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel) ? rel : undefined;
  };
  return inside(cwd) ?? (root === undefined ? undefined : inside(root)) ?? path;
}

/**
 * Columns as the docker CLI's tabwriter lays them out (minwidth 10, padding 3): every column but
 * the last is padded to max(widest cell + 3, 10); the last is not padded.
 */
export function formatTable(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(10, 3 + Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length))));
  const fmt = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]))).join('');
  return [headers, ...rows].map((r) => `${fmt(r)}\n`).join('');
}

/**
 * Go's %.<precision>g: round half to even on the exact binary value (toFixed is exact), trailing
 * zeros dropped, exponent form when the exponent is < -4 or >= precision ("1e+03").
 */
export function formatG(value: number, precision: number): string {
  if (value === 0) return '0';
  const sign = value < 0 ? '-' : '';
  const [int, frac = ''] = Math.abs(value).toFixed(60).split('.');
  const all = int + frac;
  const first = all.search(/[1-9]/);
  let exponent = int.length - 1 - first;
  const kept = all.slice(first, first + precision).padEnd(precision, '0');
  const rest = all.slice(first + precision);
  let digits = BigInt(kept);
  const half = rest.length > 0 && rest[0] === '5' && /^5?0*$/.test(rest);
  if ((rest[0] ?? '0') > '5' || (rest[0] === '5' && !half) || (half && digits % 2n === 1n)) digits += 1n;
  let text = digits.toString();
  if (text.length > precision) {
    exponent += 1;
    text = text.slice(0, precision);
  }
  const trim = (s: string) => (s.includes('.') ? s.replace(/0+$/, '').replace(/\.$/, '') : s);
  if (exponent < -4 || exponent >= precision) {
    const mantissa = trim(`${text[0]}.${text.slice(1)}`);
    return `${sign}${mantissa}e${exponent < 0 ? '-' : '+'}${String(Math.abs(exponent)).padStart(2, '0')}`;
  }
  if (exponent < 0) return `${sign}${trim(`0.${'0'.repeat(-exponent - 1)}${text}`)}`;
  return `${sign}${trim(`${text.slice(0, exponent + 1)}.${text.slice(exponent + 1)}`)}`;
}

/** Docker's HumanSize: decimal units, Go's %.3g ("1.23MB", "0B", "1e+03kB"). */
export function humanSize(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB', 'PB', 'EB', 'ZB', 'YB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${formatG(value, 3)}${units[unit]}`;
}

/** Docker's HumanDuration (go-units): "About an hour", "3 days"; used as "<duration> ago". */
export function humanDuration(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  if (seconds < 1) return 'Less than a second';
  if (seconds === 1) return '1 second';
  if (seconds < 60) return `${seconds} seconds`;
  const minutes = Math.floor(seconds / 60);
  if (minutes === 1) return 'About a minute';
  if (minutes < 60) return `${minutes} minutes`;
  const hours = Math.round(ms / 3_600_000);
  if (hours === 1) return 'About an hour';
  if (hours < 48) return `${hours} hours`;
  if (hours < 24 * 7 * 2) return `${Math.floor(hours / 24)} days`;
  if (hours < 24 * 30 * 2) return `${Math.floor(hours / 24 / 7)} weeks`;
  if (hours < 24 * 365 * 2) return `${Math.floor(hours / 24 / 30)} months`;
  return `${Math.floor(ms / 3_600_000 / 24 / 365)} years`;
}

/** An image ID as the docker CLI shows it: 12 hex digits, no `sha256:`. */
export function shortId(id: string): string {
  return id.replace(/^sha256:/, '').slice(0, 12);
}

/** A step's running time as people read it: "0.4s", "12.3s", "1m08s", "1h02m". */
export function formatElapsed(seconds: number): string {
  if (seconds < 60) return `${seconds.toFixed(1)}s`;
  const s = Math.round(seconds);
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}
