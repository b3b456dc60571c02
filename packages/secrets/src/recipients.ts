/*
 * Who a file's data key is wrapped for: age public keys and AWS KMS keys, as sops names them on
 * its command line (--age, --kms) and in .sops.yaml.
 */
import { usageError } from '@imagewright/core';
import type { Metadata } from './metadata';

export interface AgeRecipient {
  type: 'age';
  /** Bech32 age public key: `age1…` (X25519) or `age1pq1…` (post-quantum hybrid). */
  recipient: string;
}

export interface KmsRecipient {
  type: 'kms';
  /** Key or alias ARN; its region is the one KMS is asked in. */
  arn: string;
  /** An IAM role assumed (STS AssumeRole) before calling KMS. */
  role?: string;
  /** KMS encryption context: bound to the ciphertext, needed again to decrypt. */
  context?: Record<string, string>;
  /** A profile of the AWS config files whose credentials KMS is called with. */
  awsProfile?: string;
}

export type Recipient = AgeRecipient | KmsRecipient;

/** sops' pattern for a KMS key ARN (kms/keysource.go arnRegex); group 1 is the region. */
export const KMS_ARN = /^arn:aws[\w-]*:kms:(.+):[0-9]+:(key|alias)\/.+$/;
/** An IAM role ARN (any partition). */
const ROLE_ARN = /^arn:aws[\w-]*:iam::\d{12}:role\/[\w+=,.@/-]+$/;

const ALLOWED_AGE = 'an age public key (age1…)';
const ALLOWED_KMS = 'an AWS KMS key ARN (arn:aws:kms:<region>:<account>:key/<id> or …:alias/<name>, optionally +arn:aws:iam::<account>:role/<name>)';

/** Whether `text` is a plain X25519 (`age1…`) or hybrid (`age1pq1…`) recipient age-encryption accepts. */
function isAgeRecipient(text: string): boolean {
  // sops sends `age1<name>1…` (more than one '1'; bech32 data has none) to age plugins: not ours.
  if (!text.startsWith('age1pq1') && (text.match(/1/g) ?? []).length > 1) return false;
  const { Encrypter } = require('age-encryption') as typeof import('age-encryption');
  try {
    new Encrypter().addRecipient(text); // decodes the bech32 (checksum, length)
    return true;
  } catch {
    return false;
  }
}

/**
 * One recipient as written on a command line or in .sops.yaml: an age public key, or a KMS key
 * ARN with an optional `+<role ARN>` (sops' notation). `what` names where it came from (`--age`,
 * `.sops.yaml creation_rules[0].kms`); `only` restricts the kind. Anything else is a usageError.
 */
export function parseRecipient(text: string, what: string, only?: Recipient['type']): Recipient {
  const allowed = only === 'age' ? ALLOWED_AGE : only === 'kms' ? ALLOWED_KMS : `${ALLOWED_AGE} or ${ALLOWED_KMS}`;
  // A private key pasted by mistake must not be echoed back.
  if (/^\s*AGE-(SECRET|PLUGIN)-KEY-/i.test(text)) throw usageError(`${what}: that is an age identity (a private key), not a recipient: give its public key (age-keygen -y), ${allowed}`);
  const trimmed = text.trim();
  if (only !== 'kms' && trimmed.startsWith('age1')) {
    if (isAgeRecipient(trimmed)) return { type: 'age', recipient: trimmed };
    throw usageError(`${what} ${JSON.stringify(trimmed)}: not a valid age public key (plugin recipients are not supported); allowed ${allowed}`);
  }
  if (only !== 'age' && trimmed.startsWith('arn:')) {
    // As sops: spaces dropped; '+arn:' separates the key from the role (ARNs never hold ':' in their path).
    const arn = trimmed.replace(/ /g, '');
    const plus = arn.indexOf('+arn:');
    const key = plus > 0 ? arn.slice(0, plus) : arn;
    const role = plus > 0 ? arn.slice(plus + 1) : undefined;
    if (!KMS_ARN.test(key)) throw usageError(`${what} ${JSON.stringify(key)}: not a KMS key ARN; allowed ${allowed}`);
    return role === undefined ? { type: 'kms', arn: key } : { type: 'kms', arn: key, role: parseRole(role, what) };
  }
  throw usageError(`${what} ${JSON.stringify(trimmed)}: allowed ${allowed}`);
}

/** An IAM role ARN to assume before KMS (sops' `role`), else a usageError naming `what`. */
export function parseRole(text: string, what: string): string {
  if (!ROLE_ARN.test(text)) throw usageError(`${what} ${JSON.stringify(text)}: not an IAM role ARN; allowed arn:aws:iam::<12-digit account>:role/<name>`);
  return text;
}

/** A recipient as one short line for messages (never secret): the age key, or ARN[+role]. */
export function describeRecipient(recipient: Recipient): string {
  return recipient.type === 'age' ? recipient.recipient : recipient.role ? `${recipient.arn}+${recipient.role}` : recipient.arn;
}

/** The recipients of each key group of a file (kinds we do not handle are left out). */
export function recipientsOf(metadata: Pick<Metadata, 'keyGroups'>): Recipient[][] {
  return metadata.keyGroups.map((group) => [
    ...group.age.map((k): Recipient => ({ type: 'age', recipient: k.recipient })),
    ...group.kms.map((k): Recipient => ({
      type: 'kms',
      arn: k.arn,
      ...(k.role ? { role: k.role } : {}),
      ...(k.context && Object.keys(k.context).length ? { context: { ...k.context } } : {}),
      ...(k.aws_profile ? { awsProfile: k.aws_profile } : {}),
    })),
  ]);
}
