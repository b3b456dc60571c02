/*
 * .sops.yaml creation rules, found and read as sops' config/config.go does: the file is looked for
 * in the current directory and its parents (SOPS_CONFIG names one instead); rules are tried in
 * order and the first whose path_regex matches the file (its path relative to the config file's
 * directory when under it, else absolute) wins; a rule without path_regex matches every file.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve, sep } from 'node:path';
import { usageError } from '@imagewright/core';
import { parseRecipient, parseRole, type KmsRecipient, type Recipient } from './recipients';
import { goRegExp, RuleError, type CryptRules } from './walk';

export const CONFIG_FILE_NAME = '.sops.yaml';
/** sops finds only .sops.yaml; a .sops.yml on the way is ignored with a warning. */
const ALTERNATE_NAME = '.sops.yml';
const MAX_DEPTH = 100;

/** What a creation rule says about a new file. */
export interface CreationRule extends CryptRules {
  /** The .sops.yaml it came from, and the rule's index in creation_rules. */
  configFile: string;
  index: number;
  /** Recipients per key group: one group (flat age:/kms: lists) or key_groups:. Empty when the rule names no keys. */
  groups: Recipient[][];
  threshold?: number;
  /** sops' warning when a .sops.yml was passed over on the way up. */
  warning?: string;
}

export interface RuleOptions {
  /** SOPS_CONFIG is read here (process.env when omitted). */
  env?: NodeJS.ProcessEnv;
  /** Where the search for .sops.yaml starts and relative paths are resolved: process.cwd() when omitted. */
  cwd?: string;
  /** A config file to use instead of searching (sops --config). */
  configFile?: string;
}

/** The .sops.yaml sops would use from `cwd` (config.LookupConfigFile), and its warning about a .sops.yml passed over. */
export function findSopsConfig(cwd: string = process.cwd()): { path?: string; warning?: string } {
  let dir = resolve(cwd);
  let alternate: string | undefined;
  for (let i = 0; i < MAX_DEPTH; i++) {
    const candidate = join(dir, CONFIG_FILE_NAME);
    if (existsSync(candidate)) {
      return { path: candidate, ...(alternate ? { warning: `ignoring ${JSON.stringify(alternate)} when searching for config file; the config file must be called ${JSON.stringify(CONFIG_FILE_NAME)}; using ${JSON.stringify(candidate)} instead` } : {}) };
    }
    if (!alternate && existsSync(join(dir, ALTERNATE_NAME))) alternate = join(dir, ALTERNATE_NAME);
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  return alternate ? { warning: `ignoring ${JSON.stringify(alternate)} when searching for config file; the config file must be called ${JSON.stringify(CONFIG_FILE_NAME)}` } : {};
}

/**
 * The creation rule for `file` (a path as the user gave it), or undefined when there is no
 * .sops.yaml or it has no creation_rules (sops then wants keys on its command line). A .sops.yaml
 * with rules none of which matches, or one sops would refuse, is a usageError naming the file and
 * the problem, as in sops.
 */
export function creationRuleFor(file: string, options: RuleOptions = {}): CreationRule | undefined {
  const env = options.env ?? process.env;
  const cwd = resolve(options.cwd ?? process.cwd());
  let configFile = options.configFile ?? (env.SOPS_CONFIG || undefined);
  let warning: string | undefined;
  if (configFile === undefined) {
    const found = findSopsConfig(cwd);
    if (!found.path) return undefined;
    configFile = found.path;
    warning = found.warning;
  }
  configFile = resolve(cwd, configFile);
  let text: string;
  try {
    text = readFileSync(configFile, 'utf8');
  } catch (error) {
    throw usageError(`${configFile}: cannot read it (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}): allowed a readable sops config file`);
  }
  const config = parseConfig(text, configFile);
  const rules = config.creation_rules;
  if (rules === undefined || rules === null) return undefined;
  if (!Array.isArray(rules)) throw bad(configFile, 'creation_rules', 'a list of rules');

  // Matched as sops matches it: relative to the config file's directory when inside it.
  const absolute = resolve(cwd, file);
  const configDir = dirname(configFile);
  const subject = absolute.startsWith(configDir + sep) ? absolute.slice(configDir.length + 1) : absolute;
  for (const [index, rule] of rules.entries()) {
    const where = `creation_rules[${index}]`;
    if (!isMap(rule)) throw bad(configFile, where, 'a mapping (path_regex:, age:, kms:, key_groups:, …)');
    const pathRegex = optionalString(rule, 'path_regex', configFile, where);
    if (pathRegex && !configRegExp(pathRegex, configFile, `${where}.path_regex`).test(subject)) continue;
    return { ...ruleOf(rule, configFile, where), configFile, index, ...(warning ? { warning } : {}) };
  }
  throw usageError(`${configFile}: no creation rule matches ${subject}: add one whose path_regex matches it (or one without path_regex)`);
}

type YamlMap = Record<string, unknown>;
const isMap = (v: unknown): v is YamlMap => typeof v === 'object' && v !== null && !Array.isArray(v);
const bad = (configFile: string, where: string, allowed: string) => usageError(`${configFile}: ${where}: allowed ${allowed}`);

function parseConfig(text: string, configFile: string): YamlMap {
  const { parseDocument } = require('yaml') as typeof import('yaml');
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: false });
  if (doc.errors.length) throw usageError(`${configFile}: not valid YAML: ${doc.errors[0]!.message.split('\n')[0]}`);
  const value: unknown = doc.toJS();
  if (value === null || value === undefined) return {};
  if (!isMap(value)) throw bad(configFile, 'the document', 'a mapping with creation_rules:');
  return value;
}

function optionalString(map: YamlMap, key: string, configFile: string, where: string): string | undefined {
  const value = map[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw bad(configFile, `${where}.${key}`, 'a string');
  return value;
}

/** `source` compiled as sops compiles it (walk.ts' goRegExp); one that does not compile is a usage error naming the config file and where. */
function configRegExp(source: string, configFile: string, where: string): RegExp {
  try {
    return goRegExp(source);
  } catch (error) {
    if (!(error instanceof RuleError)) throw error;
    throw usageError(`${configFile}: ${where} ${JSON.stringify(source)}: can not compile regexp (${(error.cause as Error).message})`);
  }
}

/** A string or a list of strings (sops' parseKeyField): a string is comma-separated. */
function keyList(map: YamlMap, key: string, configFile: string, where: string): string[] {
  const value = map[key];
  if (value === undefined || value === null) return [];
  if (typeof value === 'string') return value.split(',').map((k) => k.trim()).filter(Boolean);
  if (Array.isArray(value) && value.every((v) => typeof v === 'string')) return (value as string[]).map((k) => k.trim()).filter(Boolean);
  throw bad(configFile, `${where}.${key}`, 'a string (comma-separated) or a list of strings');
}

/** Key kinds sops knows and this tool does not: naming them in a rule is an error (files would lack them). */
const UNSUPPORTED = ['pgp', 'gcp_kms', 'azure_keyvault', 'hc_vault_transit_uri', 'hc_vault', 'hckms'];
const CRYPT_FIELDS = [
  ['unencrypted_suffix', 'unencryptedSuffix'],
  ['encrypted_suffix', 'encryptedSuffix'],
  ['unencrypted_regex', 'unencryptedRegex'],
  ['encrypted_regex', 'encryptedRegex'],
  ['unencrypted_comment_regex', 'unencryptedCommentRegex'],
  ['encrypted_comment_regex', 'encryptedCommentRegex'],
] as const;

function refuseUnsupported(map: YamlMap, configFile: string, where: string): void {
  for (const kind of UNSUPPORTED) {
    const value = map[kind];
    const empty = value === undefined || value === null || value === '' || (Array.isArray(value) && value.length === 0);
    if (!empty) throw bad(configFile, `${where}.${kind}`, 'only age and kms keys (this tool does not handle other kinds)');
  }
}

function ruleOf(rule: YamlMap, configFile: string, where: string): Omit<CreationRule, 'configFile' | 'index'> {
  const out: Omit<CreationRule, 'configFile' | 'index'> = { groups: [] };
  const set = CRYPT_FIELDS.filter(([yamlKey]) => optionalString(rule, yamlKey, configFile, where));
  if (set.length > 1) {
    throw usageError(`${configFile}: ${where}: cannot use more than one of encrypted_suffix, unencrypted_suffix, encrypted_regex, unencrypted_regex, encrypted_comment_regex, or unencrypted_comment_regex for the same rule`);
  }
  for (const [yamlKey, field] of set) {
    const value = optionalString(rule, yamlKey, configFile, where)!;
    if (yamlKey.endsWith('_regex')) configRegExp(value, configFile, `${where}.${yamlKey}`);
    out[field] = value;
  }
  const threshold = rule.shamir_threshold;
  if (threshold !== undefined && threshold !== null) {
    if (!Number.isInteger(threshold) || (threshold as number) < 0) throw bad(configFile, `${where}.shamir_threshold`, 'a whole number');
    if (threshold !== 0) out.threshold = threshold as number;
  }
  const macOnly = rule.mac_only_encrypted;
  if (macOnly !== undefined && macOnly !== null) {
    if (typeof macOnly !== 'boolean') throw bad(configFile, `${where}.mac_only_encrypted`, 'true or false');
    if (macOnly) out.macOnlyEncrypted = true;
  }

  const keyGroups = rule.key_groups;
  if (keyGroups !== undefined && keyGroups !== null && !(Array.isArray(keyGroups) && keyGroups.length === 0)) {
    if (!Array.isArray(keyGroups)) throw bad(configFile, `${where}.key_groups`, 'a list of key groups (age:, kms:, merge:)');
    out.groups = keyGroups.map((group, i) => dedupe(groupOf(group, configFile, `${where}.key_groups[${i}]`)));
    return out;
  }
  // The flat form: one group, kms keys with the rule's aws_profile and sops' "+role" notation.
  refuseUnsupported(rule, configFile, where);
  const awsProfile = optionalString(rule, 'aws_profile', configFile, where);
  const group: Recipient[] = [
    ...keyList(rule, 'age', configFile, where).map((k) => parseRecipient(k, `${configFile}: ${where}.age`, 'age')),
    ...keyList(rule, 'kms', configFile, where).map((k) => {
      const key = parseRecipient(k, `${configFile}: ${where}.kms`, 'kms') as KmsRecipient;
      return awsProfile ? { ...key, awsProfile } : key;
    }),
  ];
  if (group.length) out.groups = [group];
  return out;
}

/** One entry of key_groups: age (each entry comma-separated), kms entries (arn, role, context, aws_profile), merge. */
function groupOf(group: unknown, configFile: string, where: string): Recipient[] {
  if (!isMap(group)) throw bad(configFile, where, 'a key group (age:, kms:, merge:)');
  refuseUnsupported(group, configFile, where);
  const recipients: Recipient[] = [];
  const merge = group.merge;
  if (merge !== undefined && merge !== null) {
    if (!Array.isArray(merge)) throw bad(configFile, `${where}.merge`, 'a list of key groups');
    merge.forEach((sub, i) => recipients.push(...groupOf(sub, configFile, `${where}.merge[${i}]`)));
  }
  const age = group.age;
  if (age !== undefined && age !== null) {
    if (!Array.isArray(age) || !age.every((a) => typeof a === 'string')) throw bad(configFile, `${where}.age`, 'a list of age public keys');
    for (const entry of age as string[]) {
      for (const k of entry.split(',')) recipients.push(parseRecipient(k, `${configFile}: ${where}.age`, 'age'));
    }
  }
  const kms = group.kms;
  if (kms !== undefined && kms !== null) {
    if (!Array.isArray(kms)) throw bad(configFile, `${where}.kms`, 'a list of {arn, role, context, aws_profile}');
    kms.forEach((entry, i) => {
      const at = `${where}.kms[${i}]`;
      if (!isMap(entry)) throw bad(configFile, at, 'a mapping {arn, role, context, aws_profile}');
      const arn = optionalString(entry, 'arn', configFile, at);
      if (!arn) throw bad(configFile, `${at}.arn`, 'a KMS key ARN');
      const key = parseRecipient(arn, `${configFile}: ${at}.arn`, 'kms') as KmsRecipient;
      if (key.role) throw bad(configFile, `${at}.arn`, 'a KMS key ARN without +role (give role: separately)');
      const role = optionalString(entry, 'role', configFile, at);
      if (role) key.role = parseRole(role, `${configFile}: ${at}.role`);
      const context = entry.context;
      if (context !== undefined && context !== null) {
        if (!isMap(context) || !Object.values(context).every((v) => typeof v === 'string')) throw bad(configFile, `${at}.context`, 'a mapping of strings');
        if (Object.keys(context).length) key.context = { ...(context as Record<string, string>) };
      }
      const awsProfile = optionalString(entry, 'aws_profile', configFile, at);
      if (awsProfile) key.awsProfile = awsProfile;
      recipients.push(key);
    });
  }
  return recipients;
}

/** sops drops a key listed twice in one group (same kind, same ARN+role, context and profile). */
function dedupe(group: Recipient[]): Recipient[] {
  const seen = new Set<string>();
  return group.filter((r) => {
    const id =
      r.type === 'age'
        ? `age/${r.recipient}`
        : `kms/${r.arn}+${r.role ?? ''}|${Object.entries(r.context ?? {})
            .sort(([a], [b]) => (a < b ? -1 : 1))
            .map(([k, v]) => `${k}:${v}`)
            .join(',')}|${r.awsProfile ?? ''}`;
    if (seen.has(id)) return false;
    seen.add(id);
    return true;
  });
}
