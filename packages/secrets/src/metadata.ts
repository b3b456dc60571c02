/*
 * sops' metadata (the `sops:` block) as this package holds it. The stores read and write it in each
 * format's own shape (YAML/JSON as a map, INI as a [sops] section, dotenv as flattened sops_* keys);
 * the key code wraps and unwraps the data key through it. Field names follow sops' file format.
 */
import type { CryptRules } from './walk';

/** An age recipient and the data key (or Shamir share) encrypted to it, ASCII-armored. */
export interface AgeKey {
  recipient: string;
  enc: string;
}

/** An AWS KMS key and the data key (or share) it encrypted, base64 of KMS' CiphertextBlob. */
export interface KmsKey {
  arn: string;
  role?: string;
  /** KMS encryption context. */
  context?: Record<string, string>;
  created_at: string;
  enc: string;
  aws_profile: string;
}

/** One key group: any one of its keys unwraps the group's data key (or its Shamir share). */
export interface KeyGroup {
  age: AgeKey[];
  kms: KmsKey[];
  /** Key kinds we do not handle (pgp, gcp_kms, azure_kv, hc_vault, hckms): kept as read, written back unchanged. */
  other: Record<string, unknown[]>;
}

/** The selectors (CryptRules) are those the file was encrypted with. */
export interface Metadata extends CryptRules {
  /** One group is written as the flat top-level lists (kms:, age:, …), more as key_groups: (sops' rule). */
  keyGroups: KeyGroup[];
  /** With several groups: how many groups' shares rebuild the data key. */
  shamirThreshold?: number;
  /** RFC 3339 UTC, as written (it is the MAC's associated data: keep the exact text). */
  lastModified: string;
  /** ENC[AES256_GCM,…,type:str] of the MAC. */
  mac: string;
  /** sops version that wrote the file; ours writes SOPS_VERSION. */
  version: string;
}

/** The sops version our files claim: the format they follow (3.7.x and later read it). */
export const SOPS_VERSION = '3.13.2';
