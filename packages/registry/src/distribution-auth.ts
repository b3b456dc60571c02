/**
 * The pure parts of talking to a registry: which scheme a host gets, and what a
 * `WWW-Authenticate` challenge asks for. No I/O here, so all of it is unit-tested.
 */

export interface Challenge {
  /** Lower-cased: `basic`, `bearer`, … */
  scheme: string;
  /** Auth-params with lower-cased names: `realm`, `service`, `scope`, `error`. */
  params: Record<string, string>;
}

/**
 * Every challenge in a `WWW-Authenticate` value (RFC 9110 §11.6.1): `Scheme k=v, k="v, w", Scheme2 …`.
 * Several headers joined with ", " (as Node joins them) parse the same way.
 */
export function parseChallenges(header: string | string[] | undefined): Challenge[] {
  const text = Array.isArray(header) ? header.join(', ') : (header ?? '');
  const challenges: Challenge[] = [];
  let i = 0;
  const skip = (chars: RegExp) => {
    while (i < text.length && chars.test(text[i])) i++;
  };
  const token = () => {
    const start = i;
    while (i < text.length && /[!#$%&'*+\-.^_`|~0-9A-Za-z]/.test(text[i])) i++;
    return text.slice(start, i);
  };
  let current: Challenge | undefined;
  while (i < text.length) {
    skip(/[\s,]/);
    const name = token();
    if (!name) {
      i++; // not a token: skip the stray character
      continue;
    }
    skip(/[ \t]/);
    if (text[i] === '=') {
      i++;
      skip(/[ \t]/);
      let value: string;
      if (text[i] === '"') {
        i++;
        value = '';
        while (i < text.length && text[i] !== '"') {
          if (text[i] === '\\' && i + 1 < text.length) i++;
          value += text[i++];
        }
        i++; // closing quote
      } else {
        const from = i;
        while (i < text.length && text[i] !== ',' && !/\s/.test(text[i])) i++;
        value = text.slice(from, i);
      }
      // A parameter before any scheme is malformed: dropped.
      if (current) current.params[name.toLowerCase()] = value;
    } else {
      current = { scheme: name.toLowerCase(), params: {} };
      challenges.push(current);
    }
  }
  return challenges;
}

/** The challenge to answer: Bearer when offered (it is what token registries require), else Basic. */
export function chooseChallenge(challenges: Challenge[]): Challenge | undefined {
  return challenges.find((c) => c.scheme === 'bearer' && c.params.realm) ?? challenges.find((c) => c.scheme === 'basic');
}

/** Splits `host[:port]` (and `[v6]:port`) into its host name (no brackets) and port. */
export function splitHostPort(hostPort: string): { hostname: string; port?: string } {
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(hostPort);
  if (v6) return { hostname: v6[1].toLowerCase(), port: v6[2] };
  const colon = hostPort.lastIndexOf(':');
  if (colon > 0 && /^\d+$/.test(hostPort.slice(colon + 1))) return { hostname: hostPort.slice(0, colon).toLowerCase(), port: hostPort.slice(colon + 1) };
  return { hostname: hostPort.toLowerCase() };
}

/** Loopback: what the Docker Engine talks to over plain HTTP without being told. */
export function isLoopback(hostname: string): boolean {
  const name = hostname.toLowerCase().replace(/^\[|\]$/g, '');
  return name === 'localhost' || name === '::1' || /^127(\.\d{1,3}){3}$/.test(name);
}

/** The variable listing registries reached over plain HTTP: comma-separated `host[:port]`. */
export const INSECURE_REGISTRIES_VAR = 'IMAGEWRIGHT_INSECURE_REGISTRIES';

/**
 * `http:` for loopback hosts and for hosts in IMAGEWRIGHT_INSECURE_REGISTRIES (an entry without
 * a port covers every port of that host), `https:` for every other.
 */
export function schemeFor(hostPort: string, env: NodeJS.ProcessEnv = process.env): 'http:' | 'https:' {
  const { hostname, port } = splitHostPort(hostPort);
  if (isLoopback(hostname)) return 'http:';
  for (const entry of (env[INSECURE_REGISTRIES_VAR] ?? '').split(',')) {
    const trimmed = entry.trim().replace(/^https?:\/\//, '').replace(/\/+$/, '');
    if (!trimmed) continue;
    const listed = splitHostPort(trimmed);
    if (listed.hostname === hostname && (listed.port === undefined || listed.port === port)) return 'http:';
  }
  return 'https:';
}
