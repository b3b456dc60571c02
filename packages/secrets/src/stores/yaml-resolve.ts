/*
 * go-yaml v3's scalar resolution (resolve.go), which decides what type sops gives a YAML value: the
 * type goes into ENC[…,type:…] and the value's Go text into the MAC. So `0x10` is the int 16 and
 * `1.0` the float 1, as in sops, whatever a YAML 1.2 library would say.
 */
import { parseGoFloat, parseGoInt, parseGoUint, parseYamlTimestamp } from '../gofmt';
import { Timestamp, type Scalar } from '../tree';

export type YamlTag = '!!str' | '!!int' | '!!float' | '!!bool' | '!!null' | '!!timestamp' | '!!merge';

const MAP: Record<string, [YamlTag, Scalar]> = {};
for (const [tag, value, words] of [
  ['!!bool', true, ['true', 'True', 'TRUE']],
  ['!!bool', false, ['false', 'False', 'FALSE']],
  ['!!null', null, ['', '~', 'null', 'Null', 'NULL']],
  ['!!float', NaN, ['.nan', '.NaN', '.NAN']],
  ['!!float', Infinity, ['.inf', '.Inf', '.INF', '+.inf', '+.Inf', '+.INF']],
  ['!!float', -Infinity, ['-.inf', '-.Inf', '-.INF']],
  ['!!merge', '<<', ['<<']],
] as Array<[YamlTag, Scalar, string[]]>) {
  for (const w of words) MAP[w] = [tag, value];
}

const YAML_STYLE_FLOAT = /^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$/;

function hint(text: string): string {
  if (text === '') return 'N';
  const c = text[0];
  if (c === '+' || c === '-') return 'S';
  if (c >= '0' && c <= '9') return 'D';
  if ('yYnNtTfFoO~'.includes(c)) return 'M';
  if (c === '.') return '.';
  return '';
}

/** resolve(tag, text) for a plain scalar (tag "" or one of the resolvable tags). */
export function resolve(tag: string, text: string): { tag: YamlTag; value: Scalar } {
  const h = hint(text);
  if (h && tag !== '!!str' && tag !== '!!binary') {
    const known = MAP[text];
    if (known) return { tag: known[0], value: known[1] };
    if (h === '.') {
      const f = parseGoFloat(text);
      if (f !== undefined) return { tag: '!!float', value: f };
    } else if (h === 'D' || h === 'S') {
      if (tag === '' || tag === '!!timestamp') {
        const t = parseYamlTimestamp(text);
        if (t) return { tag: '!!timestamp', value: new Timestamp(t) };
      }
      const plain = text.replace(/_/g, '');
      const i = parseGoInt(plain) ?? parseGoUint(plain);
      if (i !== undefined) return { tag: '!!int', value: i };
      if (YAML_STYLE_FLOAT.test(plain)) {
        const f = parseGoFloat(plain);
        if (f !== undefined) return { tag: '!!float', value: f };
      }
    }
  }
  return { tag: '!!str', value: text };
}

const BASE60_FLOAT = /^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$/;
const OLD_BOOLS = new Set(['y', 'Y', 'yes', 'Yes', 'YES', 'on', 'On', 'ON', 'n', 'N', 'no', 'No', 'NO', 'off', 'Off', 'OFF']);

/** go-yaml's encoder: a string may go unquoted only when it reads back as the same string. */
export function canBePlain(text: string): boolean {
  return resolve('', text).tag === '!!str' && !BASE60_FLOAT.test(text) && !OLD_BOOLS.has(text);
}
