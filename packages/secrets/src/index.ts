/*
 * @imagewright/secrets: deployment secrets in sops' file format.
 *
 * The file format (document.ts): read a sops file with readEncrypted, get its data key from its
 * metadata, decryptDocument (the MAC is always checked), edit the tree, encryptDocument (pass the
 * file as it was to keep unchanged values' ciphertext) and writeEncrypted. readPlain/writePlain read
 * and write the plaintext as `sops --decrypt` prints it; extract/writeExtracted do --extract.
 * The tree (tree.ts) keeps key order and comments; scalars are string, bigint (int), number (float),
 * boolean, Timestamp, Buffer (bytes that are not UTF-8) and null.
 */
export * from './metadata';
export * from './tree';
export * from './document';
export { DEFAULT_UNENCRYPTED_SUFFIX, type CryptRules } from './walk';
export { IV_BYTES, isEncrypted } from './cipher';
// The data key: recipients, age identities, KMS, key groups (Shamir), .sops.yaml creation rules.
export * from './recipients';
export * from './keys';
export * from './rules';
export { findAgeIdentities, parseAgeIdentities, ageWrap, ageUnwrap, type AgeIdentities, SOPS_AGE_KEY, SOPS_AGE_KEY_FILE, SOPS_AGE_KEY_CMD } from './age';
export { kmsWrap, kmsUnwrap } from './kms';
export { shamirSplit, shamirCombine } from './shamir';
// The secrets repository: clone/commit/push with per-repository CodeCommit credentials; STS exports.
export * from './codecommit';
export { assumeRoleExports } from './exports';
export { assumeRole, defaultCredentials, checkRoleArn } from './sts';
export * from './repository';
export * from './secrets-file';
