import { usageError } from './errors';

/*
 * `--format` as the docker CLI takes it: a Go text/template with docker's functions, a `table`
 * prefix for aligned columns with a header row, and `\t`/`\n` escapes. No npm package renders Go
 * templates faithfully (the maintained ones are subsets without functions or pipelines), so this is
 * a small one: fields (.A.B), literals, parentheses, pipelines (|), comments and trim markers, and the
 * functions json, split, join, title, lower, upper, pad, truncate, print, println, len. Control
 * structures (if, range, with), variables and printf are refused with a usage error, never guessed.
 */

/**
 * The key under which a row carries its own `{{json .}}` (docker marshals its formatter contexts as
 * a sorted map of their fields, HTML-escaped, which differs from encoding the fields one by one).
 */
export const GO_JSON = Symbol('imagewright.goJson');

/** Go's encoding/json for the values a template sees; HTML escaping as json.Marshal does it. */
export function goJson(value: unknown, options: { escapeHTML?: boolean } = {}): string {
  const escapeHTML = options.escapeHTML ?? false;
  const encode = (v: unknown): string => {
    if (v !== null && typeof v === 'object' && typeof (v as { [GO_JSON]?: unknown })[GO_JSON] === 'function') {
      return (v as { [GO_JSON]: () => string })[GO_JSON]();
    }
    if (v === undefined || v === null) return 'null';
    if (typeof v === 'string') {
      // JSON.stringify already writes Go's short escapes and lower-case \u00xx; Go also escapes U+2028/9.
      let text = JSON.stringify(v).replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
      if (escapeHTML) text = text.replace(/</g, '\\u003c').replace(/>/g, '\\u003e').replace(/&/g, '\\u0026');
      return text;
    }
    if (typeof v === 'number' || typeof v === 'boolean') return JSON.stringify(v);
    if (Array.isArray(v)) return `[${v.map(encode).join(',')}]`;
    // Objects are Go maps: keys sorted.
    const entries = Object.keys(v as object)
      .sort()
      .map((k) => `${encode(k)}:${encode((v as Record<string, unknown>)[k])}`);
    return `{${entries.join(',')}}`;
  };
  return encode(value);
}

// ---------------------------------------------------------------------------------------------
// Parsing

type Node =
  | { kind: 'text'; text: string }
  | { kind: 'action'; pipe: Pipeline };
type Pipeline = Command[];
type Command = Operand[];
type Operand =
  | { kind: 'field'; chain: string[]; text: string }
  | { kind: 'dot' }
  | { kind: 'string'; value: string; text: string }
  | { kind: 'number'; value: number; text: string }
  | { kind: 'bool'; value: boolean }
  | { kind: 'nil' }
  | { kind: 'func'; name: string }
  | { kind: 'paren'; pipe: Pipeline; chain: string[] };

/** A template problem, turned into a usage error naming the template by the caller. */
class TemplateProblem extends Error {}
const problem = (message: string) => new TemplateProblem(message);

const SPACE = /[ \t\r\n]/;
const KEYWORDS = new Set(['if', 'else', 'end', 'range', 'with', 'define', 'template', 'block', 'break', 'continue']);

interface Parsed {
  nodes: Node[];
}

function parseTemplate(source: string, funcs: FuncMap): Parsed {
  const nodes: Node[] = [];
  let pos = 0;
  let trimNext = false;
  const pushText = (text: string) => {
    if (trimNext) text = text.replace(/^[ \t\r\n]+/, '');
    trimNext = false;
    if (text !== '') nodes.push({ kind: 'text', text });
  };
  while (pos < source.length) {
    const open = source.indexOf('{{', pos);
    if (open < 0) {
      pushText(source.slice(pos));
      break;
    }
    let text = source.slice(pos, open);
    let i = open + 2;
    // "{{- " trims the space before the action.
    if (source[i] === '-' && SPACE.test(source[i + 1] ?? '')) {
      text = text.replace(/[ \t\r\n]+$/, '');
      i += 2;
    }
    pushText(text);
    // Only a template of several lines needs its problems placed.
    const lineOf = (at: number) => (source.includes('\n') ? `line ${source.slice(0, at).split('\n').length}: ` : '');
    if (source.startsWith('/*', i)) {
      const end = source.indexOf('*/', i + 2);
      if (end < 0) throw problem(`${lineOf(open)}unclosed comment`);
      i = end + 2;
      const close = closeAt(source, i);
      if (close === undefined) throw problem(`${lineOf(open)}comment ends before closing delimiter`);
      [pos, trimNext] = close;
      continue;
    }
    const [pipe, end] = parseAction(source, i, funcs, lineOf(open));
    nodes.push({ kind: 'action', pipe });
    [pos, trimNext] = end;
  }
  return { nodes };
}

/** At `}}` or ` -}}`: the position after it and whether it trims the following text. */
function closeAt(source: string, i: number): [number, boolean] | undefined {
  if (source.startsWith('}}', i)) return [i + 2, false];
  if (SPACE.test(source[i] ?? '') && source.startsWith('-}}', i + 1)) return [i + 4, true];
  return undefined;
}

const IDENT = /[A-Za-z_][A-Za-z0-9_]*/y;
const FIELD_CHAIN = /(?:\.[A-Za-z_][A-Za-z0-9_]*)+/y;
const NUMBER = /[+-]?(?:0[xX][0-9a-fA-F_]+|0[bB][01_]+|0[oO][0-7_]+|(?:\d[\d_]*(?:\.[\d_]*)?|\.\d[\d_]*)(?:[eE][+-]?\d+)?)/y;

function sticky(re: RegExp, source: string, at: number): string | undefined {
  re.lastIndex = at;
  return re.exec(source)?.[0];
}

/** Go's string escapes: \n \t \\ \" \xHH \uHHHH \UHHHHHHHH \ooo and friends. */
function unquote(body: string, where: string): string {
  const simple: Record<string, string> = { a: '\x07', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v', '\\': '\\', '"': '"', "'": "'" };
  return body.replace(/\\(?:([abfnrtv\\"'])|x([0-9a-fA-F]{2})|u([0-9a-fA-F]{4})|U([0-9a-fA-F]{8})|([0-7]{3})|(.?))/gs, (_, s, x, u, U, o, bad) => {
    if (s) return simple[s]!;
    if (x || o) return String.fromCharCode(parseInt(x ?? o, x ? 16 : 8));
    if (u || U) return String.fromCodePoint(parseInt(u ?? U, 16));
    throw problem(`${where}unknown escape sequence \\${bad}`);
  });
}

/** Parses the inside of one action from `at`; returns its pipeline and where the text resumes. */
function parseAction(source: string, at: number, funcs: FuncMap, where: string): [Pipeline, [number, boolean]] {
  let i = at;
  const skipSpace = () => {
    while (i < source.length && SPACE.test(source[i]!)) {
      // " -}}" is a closing trim marker, not space to skip.
      if (closeAt(source, i) && !source.startsWith('}}', i)) return;
      i++;
    }
  };

  const parsePipeline = (inParen: boolean): Pipeline => {
    const pipe: Pipeline = [];
    let command: Command = [];
    for (;;) {
      skipSpace();
      if (i >= source.length) throw problem(`${where}unclosed action`);
      const close = inParen ? undefined : closeAt(source, i);
      if (close || (inParen && source[i] === ')')) {
        if (command.length === 0) throw problem(`${where}missing value for ${inParen ? 'parenthesized pipeline' : 'command'}`);
        pipe.push(command);
        if (inParen) i++;
        return pipe;
      }
      if (!inParen && source[i] === ')') throw problem(`${where}unexpected right paren`);
      if (source[i] === '|') {
        if (command.length === 0) throw problem(`${where}missing value for command`);
        pipe.push(command);
        command = [];
        i++;
        continue;
      }
      if (command.length > 0 && !SPACE.test(source[i - 1]!) && source[i - 1] !== '(' && source[i - 1] !== '|') {
        throw problem(`${where}unexpected ${JSON.stringify(source[i])} in operand`);
      }
      command.push(parseOperand());
    }
  };

  const parseOperand = (): Operand => {
    const c = source[i]!;
    if (c === '(') {
      i++;
      const pipe = parsePipeline(true);
      const chain = sticky(FIELD_CHAIN, source, i);
      if (chain) i += chain.length;
      return { kind: 'paren', pipe, chain: chain ? chain.slice(1).split('.') : [] };
    }
    if (c === '"' || c === '`') {
      const end = c === '`' ? source.indexOf('`', i + 1) : findQuoteEnd(source, i);
      if (end < 0) throw problem(`${where}unterminated ${c === '`' ? 'raw ' : ''}quoted string`);
      const body = source.slice(i + 1, end);
      const text = source.slice(i, end + 1);
      i = end + 1;
      return { kind: 'string', value: c === '`' ? body : unquote(body, where), text };
    }
    if (c === '.') {
      const chain = sticky(FIELD_CHAIN, source, i);
      if (chain) {
        i += chain.length;
        return { kind: 'field', chain: chain.slice(1).split('.'), text: chain };
      }
      if (!/\d/.test(source[i + 1] ?? '')) {
        i++;
        return { kind: 'dot' };
      }
    }
    if (c === '$') throw problem(`${where}variables ($) are not supported`);
    if (c === "'") {
      const m = /^'(\\.[^']*|[^'\\])'/su.exec(source.slice(i));
      if (!m) throw problem(`${where}bad character constant`);
      i += m[0].length;
      const ch = m[1]!.startsWith('\\') ? unquote(m[1]!, where) : m[1]!;
      return { kind: 'number', value: ch.codePointAt(0)!, text: m[0] };
    }
    const number = sticky(NUMBER, source, i);
    if (number && /\d/.test(number)) {
      i += number.length;
      const value = goNumber(number);
      if (Number.isNaN(value) || sticky(IDENT, source, i)) throw problem(`${where}bad number syntax: ${JSON.stringify(number)}`);
      return { kind: 'number', value, text: number };
    }
    const ident = sticky(IDENT, source, i);
    if (ident) {
      i += ident.length;
      if (ident === 'true' || ident === 'false') return { kind: 'bool', value: ident === 'true' };
      if (ident === 'nil') return { kind: 'nil' };
      if (KEYWORDS.has(ident)) throw problem(`${where}{{${ident}}} is not supported (allowed: fields, functions and pipelines)`);
      if (!(ident in funcs)) {
        const what = ident in GO_BUILTINS ? 'is not supported' : 'not defined';
        throw problem(`${where}function ${JSON.stringify(ident)} ${what} (allowed: ${Object.keys(funcs).join(', ')})`);
      }
      return { kind: 'func', name: ident };
    }
    throw problem(`${where}unexpected ${JSON.stringify(c)} in command`);
  };

  const pipe = parsePipeline(false);
  pipe.forEach((command, n) => {
    const first = command[0]!;
    if (first.kind === 'nil') throw problem(`${where}nil is not a command`);
    if (n > 0 && first.kind !== 'func' && first.kind !== 'field' && first.kind !== 'paren') {
      throw problem(`${where}non executable command in pipeline stage ${n + 1}`);
    }
  });
  const close = closeAt(source, i)!;
  return [pipe, close];
}

/** Go's number literals: 0x, 0b, 0o and leading-zero octal, underscores, floats (1.0 counts as an integer). */
function goNumber(text: string): number {
  const sign = text.startsWith('-') ? -1 : 1;
  const digits = text.replace(/^[+-]/, '').replace(/_/g, '');
  if (/^0[xX]/.test(digits)) return sign * parseInt(digits.slice(2), 16);
  if (/^0[bB]/.test(digits)) return sign * parseInt(digits.slice(2), 2);
  if (/^0[oO]?[0-7]+$/.test(digits)) return sign * parseInt(digits.replace(/^0[oO]?/, ''), 8);
  return sign * Number(digits);
}

function findQuoteEnd(source: string, start: number): number {
  for (let j = start + 1; j < source.length; j++) {
    if (source[j] === '\\') j++;
    else if (source[j] === '\n') return -1;
    else if (source[j] === '"') return j;
  }
  return -1;
}

// ---------------------------------------------------------------------------------------------
// Functions

type ParamType = 'string' | 'int' | 'strings' | 'any';
interface Func {
  params: ParamType[];
  /** The last parameter repeats (print, println). */
  variadic?: boolean;
  call: (...args: never[]) => unknown;
}
export type FuncMap = Record<string, Func>;

/** Go's %v for the values a template can hold. */
export function goPrint(value: unknown): string {
  if (value === undefined) return '<no value>';
  if (value === null) return '<nil>';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) return `[${value.map(goPrint).join(' ')}]`;
  const entries = Object.keys(value as object)
    .sort()
    .map((k) => `${k}:${goPrint((value as Record<string, unknown>)[k])}`);
  return `map[${entries.join(' ')}]`;
}

const utf8 = (s: string) => Buffer.from(s, 'utf8');

/** strings.Title: the first letter of each word upper-cased (words split as Go's isSeparator does). */
function title(s: string): string {
  let prev = ' ';
  let out = '';
  for (const ch of s) {
    const separator = /[\x00-\x7f]/.test(prev) ? !/[A-Za-z0-9_]/.test(prev) : !/[\p{L}\p{Nd}]/u.test(prev) && /\s/u.test(prev);
    out += separator ? simpleCase(ch, 'upper') : ch;
    prev = ch;
  }
  return out;
}

/** Go maps rune by rune: a letter whose upper case is two letters (ß → SS) stays as it is. */
function simpleCase(s: string, to: 'upper' | 'lower'): string {
  let out = '';
  for (const ch of s) {
    const mapped = to === 'upper' ? ch.toUpperCase() : ch.toLowerCase();
    out += [...mapped].length === 1 ? mapped : ch;
  }
  return out;
}

/** docker/cli's template functions (templates.basicFunctions) and the Go builtins we offer. */
export const TEMPLATE_FUNCTIONS: FuncMap = {
  json: { params: ['any'], call: (v: unknown) => goJson(v) },
  split: { params: ['string', 'string'], call: (s: string, sep: string) => (sep === '' ? [...s] : s.split(sep)) },
  join: { params: ['strings', 'string'], call: (elems: string[], sep: string) => elems.join(sep) },
  title: { params: ['string'], call: (s: string) => title(s) },
  lower: { params: ['string'], call: (s: string) => simpleCase(s, 'lower') },
  upper: { params: ['string'], call: (s: string) => simpleCase(s, 'upper') },
  // docker pads only non-empty values, so empty columns stay empty.
  pad: { params: ['string', 'int', 'int'], call: (s: string, prefix: number, suffix: number) => (s === '' ? s : ' '.repeat(Math.max(prefix, 0)) + s + ' '.repeat(Math.max(suffix, 0))) },
  // Bytes, as Go's len and slicing count them.
  truncate: { params: ['string', 'int'], call: (s: string, n: number) => (utf8(s).length < n ? s : utf8(s).subarray(0, Math.max(n, 0)).toString('utf8')) },
  print: { params: ['any'], variadic: true, call: (...args: unknown[]) => goSprint(args) },
  println: { params: ['any'], variadic: true, call: (...args: unknown[]) => `${args.map(goPrint).join(' ')}\n` },
  len: {
    params: ['any'],
    call: (v: unknown) => {
      if (typeof v === 'string') return utf8(v).length;
      if (Array.isArray(v)) return v.length;
      if (v !== null && typeof v === 'object') return Object.keys(v).length;
      throw problem(`len of ${goType(v)}`);
    },
  },
};

/** Go builtins we do not offer: named as unsupported rather than unknown. */
const GO_BUILTINS = { and: 1, call: 1, html: 1, index: 1, slice: 1, js: 1, not: 1, or: 1, printf: 1, urlquery: 1, eq: 1, ne: 1, lt: 1, le: 1, gt: 1, ge: 1 };

/** fmt.Sprint: a space between operands when neither side is a string. */
function goSprint(args: unknown[]): string {
  let out = '';
  args.forEach((a, n) => {
    if (n > 0 && typeof a !== 'string' && typeof args[n - 1] !== 'string') out += ' ';
    out += goPrint(a);
  });
  return out;
}

/**
 * docker's templates.HeaderFunctions: for the header row of a `table`, the functions that would
 * change a value leave the column name alone (pad, print and len are not replaced).
 */
export const TEMPLATE_HEADER_FUNCTIONS: FuncMap = {
  ...TEMPLATE_FUNCTIONS,
  json: { params: ['string'], call: (v: string) => v },
  split: { params: ['string', 'string'], call: (v: string) => v },
  join: { params: ['string', 'string'], call: (v: string) => v },
  title: { params: ['string'], call: (v: string) => v },
  lower: { params: ['string'], call: (v: string) => v },
  upper: { params: ['string'], call: (v: string) => v },
  truncate: { params: ['string', 'int'], call: (v: string) => v },
};

function goType(v: unknown): string {
  if (v === undefined || v === null) return 'nil';
  if (typeof v === 'number') return Number.isInteger(v) ? 'int' : 'float64';
  if (typeof v === 'string' || typeof v === 'boolean') return typeof v === 'string' ? 'string' : 'bool';
  if (Array.isArray(v)) return v.every((e) => typeof e === 'string') ? '[]string' : '[]interface {}';
  return 'map';
}

// ---------------------------------------------------------------------------------------------
// Execution

function fieldChain(receiver: unknown, chain: string[], shown: string): unknown {
  let value = receiver;
  for (const name of chain) {
    if (value === undefined || value === null) throw problem(`nil pointer evaluating ${shown}`);
    if (typeof value !== 'object' || Array.isArray(value)) throw problem(`can't evaluate field ${name} in type ${goType(value)}`);
    if (!Object.prototype.hasOwnProperty.call(value, name)) {
      const allowed = Object.keys(value).map((k) => `.${k}`);
      throw problem(`can't evaluate field ${name}${allowed.length ? ` (allowed: ${allowed.join(', ')})` : ''}`);
    }
    value = (value as Record<string, unknown>)[name];
  }
  return value;
}

function checkArg(fn: string, type: ParamType, arg: Operand, value: unknown): unknown {
  const literal = arg.kind === 'string' || arg.kind === 'number' || arg.kind === 'bool';
  const shown = literal ? (arg as { text?: string }).text ?? String((arg as { value: unknown }).value) : '';
  if (type === 'any') return value;
  if (type === 'string' && typeof value === 'string') return value;
  if (type === 'int' && typeof value === 'number' && Number.isInteger(value)) return value;
  if (type === 'strings' && Array.isArray(value) && value.every((e) => typeof e === 'string')) return value;
  const expected = { string: 'string', int: 'int', strings: '[]string' }[type];
  if (literal) throw problem(`${fn}: expected ${type === 'int' ? 'integer' : expected}; found ${shown}`);
  if (value === undefined || value === null) throw problem(`${fn}: invalid value; expected ${expected}`);
  throw problem(`${fn}: wrong type for value; expected ${expected}; got ${goType(value)}`);
}

function evalOperand(op: Operand, dot: unknown, funcs: FuncMap): unknown {
  switch (op.kind) {
    case 'dot':
      return dot;
    case 'field':
      return fieldChain(dot, op.chain, op.text);
    case 'string':
    case 'number':
    case 'bool':
      return op.value;
    case 'nil':
      return null;
    case 'paren':
      return fieldChain(evalPipeline(op.pipe, dot, funcs), op.chain, `.${op.chain.join('.')}`);
    case 'func':
      return callFunc(op.name, [], undefined, dot, funcs);
  }
}

function callFunc(name: string, args: Operand[], final: { value: unknown } | undefined, dot: unknown, funcs: FuncMap): unknown {
  const fn = funcs[name]!;
  const count = args.length + (final ? 1 : 0);
  if (fn.variadic ? count < fn.params.length - 1 : count !== fn.params.length) {
    throw problem(`wrong number of args for ${name}: want ${fn.variadic ? 'at least ' : ''}${fn.params.length - (fn.variadic ? 1 : 0)} got ${count}`);
  }
  const type = (n: number) => fn.params[Math.min(n, fn.params.length - 1)]!;
  const values = args.map((a, n) => checkArg(name, type(n), a, evalOperand(a, dot, funcs)));
  if (final) values.push(checkArg(name, type(values.length), { kind: 'dot' }, final.value));
  return (fn.call as (...a: unknown[]) => unknown)(...values);
}

function evalPipeline(pipe: Pipeline, dot: unknown, funcs: FuncMap): unknown {
  let final: { value: unknown } | undefined;
  for (const command of pipe) {
    const [first, ...args] = command as [Operand, ...Operand[]];
    let value: unknown;
    if (first.kind === 'func') value = callFunc(first.name, args, final, dot, funcs);
    else {
      if (args.length > 0 || final) {
        const what = first.kind === 'field' ? first.text : first.kind === 'dot' ? '.' : 'a value';
        throw problem(`can't give argument to non-function ${what}`);
      }
      value = evalOperand(first, dot, funcs);
    }
    final = { value };
  }
  return final!.value;
}

/** A parsed template: render it for one value (a row). */
export interface GoTemplate {
  readonly source: string;
  /** The text for `data`; throws the usage error naming the template on a bad field or argument. */
  execute(data: unknown): string;
}

export interface TemplateOptions {
  /** How errors name the template's option (default "--format"). */
  option?: string;
  funcs?: FuncMap;
}

const templateError = (option: string, source: string, message: string) => usageError(`${option} ${JSON.stringify(source)}: ${message}`);

/** Parses a Go template now (syntax and function names are checked before anything runs). */
export function goTemplate(source: string, options: TemplateOptions = {}): GoTemplate {
  const option = options.option ?? '--format';
  const funcs = options.funcs ?? TEMPLATE_FUNCTIONS;
  let parsed: Parsed;
  try {
    parsed = parseTemplate(source, funcs);
  } catch (error) {
    if (error instanceof TemplateProblem) throw templateError(option, source, error.message);
    throw error;
  }
  return {
    source,
    execute(data) {
      const parts: string[] = [];
      try {
        run(parsed, data, funcs, parts);
      } catch (error) {
        if (error instanceof TemplateProblem) throw templateError(option, source, error.message);
        throw error;
      }
      return parts.join('');
    },
  };
}

/** Renders into `parts` as it goes, so a failure leaves what came before (docker's header row). */
function run(parsed: Parsed, data: unknown, funcs: FuncMap, parts: string[]): void {
  for (const node of parsed.nodes) {
    parts.push(node.kind === 'text' ? node.text : goPrint(evalPipeline(node.pipe, data, funcs)));
  }
}

// ---------------------------------------------------------------------------------------------
// docker's formatter.Context: table/json keywords, escapes, one line per row, tabwriter

export interface RenderOptions {
  /** The column names for a `table` header: field name → header (docker's SubHeaderContext). */
  header?: Record<string, string>;
  /** What `--format table` alone means (the command's default table). */
  table?: string;
  option?: string;
}

/**
 * Renders rows as `docker <cmd> --format FORMAT` does: "json" is `{{json .}}`, a "table" prefix
 * aligns tab-separated columns under a header row, `\t` and `\n` in the format are escapes, and
 * every row ends with a newline. Nothing is returned until every row rendered.
 */
export function renderFormat(format: string, rows: unknown[], options: RenderOptions = {}): string {
  const source = format === 'table' && options.table ? options.table : format;
  const table = source.startsWith('table');
  let text = table ? source.slice('table'.length) : source === 'json' ? '{{json .}}' : source;
  text = text.replace(/^ +| +$/g, '').replace(/\\t/g, '\t').replace(/\\n/g, '\n');
  const option = options.option ?? '--format';
  const template = goTemplate(text, { option });
  const body = rows.map((row) => `${template.execute(row)}\n`).join('');
  if (!table) return body;
  // docker ignores errors in the header row and keeps what rendered before them.
  const parts: string[] = [];
  try {
    run(parseTemplate(text, TEMPLATE_HEADER_FUNCTIONS), options.header ?? {}, TEMPLATE_HEADER_FUNCTIONS, parts);
  } catch (error) {
    if (!(error instanceof TemplateProblem)) throw error;
  }
  return tabwrite(`${parts.join('')}\n${body}`);
}

/**
 * Go's text/tabwriter as docker configures it (minwidth 10, padding 3, spaces): cells end at a tab,
 * tab-terminated cells of adjacent lines form a column as wide as its widest cell + 3; the text
 * after a line's last tab is not part of any column. Expects newline-terminated lines.
 */
export function tabwrite(text: string, minwidth = 10, padding = 3): string {
  const rest = text.endsWith('\n') ? '' : text.slice(text.lastIndexOf('\n') + 1);
  const lines = text
    .slice(0, text.length - rest.length)
    .split('\n')
    .slice(0, -1)
    .map((l) => l.split('\t'));
  const widths: number[] = [];
  let out = '';
  const writeLines = (from: number, to: number) => {
    for (let n = from; n < to; n++) {
      lines[n]!.forEach((cell, j) => {
        out += cell;
        if (j < widths.length) out += ' '.repeat(Math.max(widths[j]! - cellWidth(cell), 0));
      });
      out += '\n';
    }
  };
  const format = (line0: number, line1: number) => {
    const column = widths.length;
    for (let n = line0; n < line1; n++) {
      if (column >= lines[n]!.length - 1) continue;
      // A column block: the adjacent lines that have a cell in this column.
      writeLines(line0, n);
      line0 = n;
      let width = minwidth;
      for (; n < line1 && column < lines[n]!.length - 1; n++) width = Math.max(width, cellWidth(lines[n]![column]!) + padding);
      widths.push(width);
      format(line0, n);
      widths.pop();
      line0 = n;
    }
    writeLines(line0, line1);
  };
  format(0, lines.length);
  return out + rest;
}

/** Terminal columns of a cell, as docker's tabwriter counts them (go-runewidth: wide CJK 2, marks 0). */
export function cellWidth(text: string): number {
  let width = 0;
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    if (cp < 0x20 || (cp >= 0x7f && cp < 0xa0) || /[\p{Mn}\p{Me}\u200b-\u200f]/u.test(ch)) continue;
    const wide =
      (cp >= 0x1100 && cp <= 0x115f) ||
      (cp >= 0x2e80 && cp <= 0xa4cf && cp !== 0x303f) ||
      (cp >= 0xac00 && cp <= 0xd7a3) ||
      (cp >= 0xf900 && cp <= 0xfaff) ||
      (cp >= 0xfe30 && cp <= 0xfe4f) ||
      (cp >= 0xff00 && cp <= 0xff60) ||
      (cp >= 0xffe0 && cp <= 0xffe6) ||
      (cp >= 0x1f300 && cp <= 0x1f64f) ||
      (cp >= 0x1f900 && cp <= 0x1f9ff) ||
      (cp >= 0x20000 && cp <= 0x3fffd);
    width += wide ? 2 : 1;
  }
  return width;
}
