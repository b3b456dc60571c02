/*
 * AWS CodeCommit's git-over-HTTPS credentials, as `aws codecommit credential-helper` (awscli's
 * customizations/codecommit.py) and git-remote-codecommit make them: the username is the access key
 * id (with `%` and the session token for temporary credentials), the password a SigV4 signature of
 * a pseudo-request `GIT <repository path>` for the host, service `codecommit`, prefixed by its time.
 * No request is sent: CodeCommit recomputes the signature from the HTTP Basic credentials git sends.
 */
import { createHash, createHmac } from 'node:crypto';

/** Temporary or long-term AWS credentials. */
export interface AwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  expiration?: Date;
}

/**
 * CodeCommit's git endpoints (awscli's pattern, plus .cn): `git-codecommit.<region>.amazonaws.com`,
 * the FIPS and VPC endpoint forms. Group 3 is the region.
 */
const CODECOMMIT_HOST = /^(vpce-.+\.)?git-codecommit(-fips)?\.([^.]+)\.(vpce\.)?amazonaws\.com(\.cn)?$/;

/** The host without a port: the signature covers the name only (awscli drops the port). */
export const hostName = (host: string): string => host.replace(/:\d+$/, '');

/** Whether `host` (a port allowed) is one of CodeCommit's git endpoints. */
export function isCodecommitHost(host: string): boolean {
  return CODECOMMIT_HOST.test(hostName(host).toLowerCase());
}

/** The region a CodeCommit host names, or undefined for any other host. */
export function codecommitRegion(host: string): string | undefined {
  return CODECOMMIT_HOST.exec(hostName(host).toLowerCase())?.[3];
}

/** The username git sends: `AccessKeyId` or `AccessKeyId%SessionToken`. */
export function codecommitUsername(credentials: AwsCredentials): string {
  return credentials.sessionToken ? `${credentials.accessKeyId}%${credentials.sessionToken}` : credentials.accessKeyId;
}

/** `YYYYMMDDTHHMMSS` in UTC: SigV4's time without the trailing Z (awscli signs it that way). */
export function codecommitTimestamp(when: Date): string {
  return when.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, '');
}

const hmac = (key: Buffer | string, data: string) => createHmac('sha256', key).update(data, 'utf8').digest();
const sha256Hex = (data: string) => createHash('sha256').update(data, 'utf8').digest('hex');

export interface SignatureInput {
  /** The secret half of the credentials. */
  secretAccessKey: string;
  /** The host git connects to; a port is dropped. */
  host: string;
  /** The repository's URL path, `/v1/repos/<name>` (git's `path`, with or without the leading slash). */
  path: string;
  region: string;
  /** `YYYYMMDDTHHMMSS` (codecommitTimestamp). */
  timestamp: string;
}

/** The hex SigV4 signature of `GIT <path>` for `host`: what both sides of CodeCommit compute. */
export function codecommitSignature(input: SignatureInput): string {
  const path = input.path.startsWith('/') ? input.path : `/${input.path}`;
  // Method, path, empty query, the one signed header, a blank line, the signed header names, and
  // an empty payload hash: awscli's canonical request, byte for byte.
  const canonical = `GIT\n${path}\n\nhost:${hostName(input.host)}\n\nhost\n`;
  const day = input.timestamp.slice(0, 8);
  const scope = `${day}/${input.region}/codecommit/aws4_request`;
  const toSign = `AWS4-HMAC-SHA256\n${input.timestamp}\n${scope}\n${sha256Hex(canonical)}`;
  const key = hmac(hmac(hmac(hmac(`AWS4${input.secretAccessKey}`, day), input.region), 'codecommit'), 'aws4_request');
  return createHmac('sha256', key).update(toSign, 'utf8').digest('hex');
}

/** The password git sends: `<YYYYMMDDTHHMMSS>Z<signature>`. */
export function codecommitPassword(credentials: Pick<AwsCredentials, 'secretAccessKey'>, request: { host: string; path: string; region: string; now?: Date }): string {
  const timestamp = codecommitTimestamp(request.now ?? new Date());
  return `${timestamp}Z${codecommitSignature({ secretAccessKey: credentials.secretAccessKey, host: request.host, path: request.path, region: request.region, timestamp })}`;
}

/** git's credential-helper protocol: `key=value` lines up to a blank line or the end. */
export function parseCredentialRequest(text: string): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\r$/, '');
    if (line === '') break;
    const eq = line.indexOf('=');
    if (eq <= 0) continue;
    const key = line.slice(0, eq);
    // Array keys (capability[], wwwauth[]) are not ours to answer: the last one is kept, unused.
    fields[key] = line.slice(eq + 1);
  }
  return fields;
}
