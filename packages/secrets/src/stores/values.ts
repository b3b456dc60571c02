/** sops' stores.ValToString: how the flat formats (INI, dotenv) write a non-string value. */
import { formatFloatF, formatFloatYaml } from '../gofmt';
import { Timestamp, type Value } from '../tree';

export function valToString(value: Value): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) return formatFloatF(value);
    // %G, with at least one decimal when it would read as an integer.
    const g = formatFloatYaml(value).toUpperCase();
    return g.includes('.') || g.includes('E') ? g : `${formatFloatF(value)}.0`;
  }
  if (typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  // time.Time is written with Format(RFC3339): whole seconds.
  if (value instanceof Timestamp) return value.text.replace(/\.\d+(?=Z|[+-]\d\d:\d\d$)/, '');
  if (Buffer.isBuffer(value)) return value.toString('utf8');
  if (value === null) return '<nil>';
  throw new TypeError('not a scalar');
}
