import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseRecipient, recipientsOf } from './recipients';
import { creationRuleFor, findSopsConfig } from './rules';
import { goRegExp, RuleError } from './walk';

// Public test recipients (sops' own fixtures) and made-up ARNs in the documentation account.
const AGE1 = 'age1yt3tfqlfrwdwx0z0ynwplcr6qxcxfaqycuprpmy89nr83ltx74tqdpszlw';
const AGE2 = 'age1tmaae3ld5vpevmsh5yacsauzx8jetg300mpvc4ugp5zr5l6ssq9sla97ep';
const KMS1 = 'arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab';
const KMS2 = 'arn:aws:kms:eu-west-3:123456789012:alias/secrets';
const ROLE = 'arn:aws:iam::123456789012:role/secrets-admin';

describe('.sops.yaml creation rules (sops config/config.go)', () => {
  let root: string;
  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'imagewright-rules-'));
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  /** A fresh repository-like tree with `.sops.yaml` at its top; returns its path. */
  function tree(name: string, config: string): string {
    const dir = join(root, name);
    mkdirSync(join(dir, 'deployments', 'tike'), { recursive: true });
    writeFileSync(join(dir, '.sops.yaml'), config);
    return dir;
  }
  const usage = (f: () => unknown) => {
    try {
      f();
    } catch (error) {
      return error as Error & { exitCode?: number };
    }
    throw new Error('expected a usageError');
  };

  it('first matching rule wins; path_regex is matched against the path relative to the config file; a rule without path_regex matches all', () => {
    const dir = tree(
      'order',
      `creation_rules:
  - path_regex: ^deployments/tike/.*\\.yaml$
    age: ${AGE1}, ${AGE2}
    encrypted_regex: ^(data|stringData)$
  - path_regex: \\.yaml$
    kms: [${KMS1}]
  - age: [${AGE2}]
`,
    );
    // Found from a subdirectory, as sops finds it from the current directory upwards.
    const cwd = join(dir, 'deployments', 'tike');
    const tike = creationRuleFor('secrets.yaml', { cwd, env: {} })!;
    expect(tike).toEqual({
      configFile: join(dir, '.sops.yaml'),
      index: 0,
      groups: [[parseRecipient(AGE1, 't'), parseRecipient(AGE2, 't')]],
      encryptedRegex: '^(data|stringData)$',
    });
    expect(creationRuleFor(join(dir, 'other.yaml'), { cwd, env: {} })).toMatchObject({ index: 1, groups: [[{ type: 'kms', arn: KMS1 }]] });
    expect(creationRuleFor('notes.json', { cwd: dir, env: {} })).toMatchObject({ index: 2, groups: [[{ type: 'age', recipient: AGE2 }]] });
  });

  it('outside the config directory the absolute path is matched (as sops: the prefix is only trimmed when inside)', () => {
    const dir = tree('outside', `creation_rules:\n  - path_regex: ^/.*/elsewhere/x\\.yaml$\n    age: ${AGE1}\n  - path_regex: ^x\\.yaml$\n    age: ${AGE2}\n`);
    const elsewhere = join(root, 'elsewhere');
    mkdirSync(elsewhere, { recursive: true });
    expect(creationRuleFor(join(elsewhere, 'x.yaml'), { cwd: dir, env: {} })?.index).toBe(0);
    expect(creationRuleFor('x.yaml', { cwd: dir, env: {} })?.index).toBe(1);
  });

  it('no .sops.yaml, or one without creation_rules: undefined; rules that all miss: a usageError naming the config file and the file', () => {
    const bare = join(root, 'bare');
    mkdirSync(bare, { recursive: true });
    // The temp dir's parents have no .sops.yaml either (sops would find one there too).
    if (findSopsConfig(bare).path === undefined) expect(creationRuleFor('a.yaml', { cwd: bare, env: {} })).toBeUndefined();
    const empty = tree('empty', '');
    expect(creationRuleFor('a.yaml', { cwd: empty, env: {} })).toBeUndefined();
    const dest = tree('dest-only', 'destination_rules:\n  - s3_bucket: x\n');
    expect(creationRuleFor('a.yaml', { cwd: dest, env: {} })).toBeUndefined();
    const miss = tree('miss', `creation_rules:\n  - path_regex: \\.json$\n    age: ${AGE1}\n`);
    const error = usage(() => creationRuleFor('a.yaml', { cwd: miss, env: {} }));
    expect(error.exitCode).toBe(2);
    expect(error.message).toBe(`${join(miss, '.sops.yaml')}: no creation rule matches a.yaml: add one whose path_regex matches it (or one without path_regex)`);
  });

  it('SOPS_CONFIG (or configFile) names the config instead of the search; a .sops.yml on the way is passed over with sops\' warning', () => {
    const dir = tree('named', `creation_rules:\n  - age: ${AGE1}\n`);
    const other = join(root, 'named-other.yaml');
    writeFileSync(other, `creation_rules:\n  - age: ${AGE2}\n`);
    expect(creationRuleFor('a.yaml', { cwd: dir, env: { SOPS_CONFIG: other } })).toMatchObject({ configFile: other, groups: [[{ recipient: AGE2 }]] });
    expect(creationRuleFor('a.yaml', { cwd: dir, env: {}, configFile: other })?.configFile).toBe(other);
    expect(usage(() => creationRuleFor('a.yaml', { cwd: dir, env: { SOPS_CONFIG: join(root, 'nope.yaml') } })).message).toMatch(/nope\.yaml: cannot read it \(ENOENT\)/);
    const sub = join(dir, 'deployments');
    writeFileSync(join(sub, '.sops.yml'), `creation_rules:\n  - age: ${AGE2}\n`);
    const rule = creationRuleFor('a.yaml', { cwd: sub, env: {} })!;
    expect(rule.configFile).toBe(join(dir, '.sops.yaml'));
    expect(rule.warning).toMatch(/ignoring ".*\.sops\.yml" when searching for config file; the config file must be called ".sops.yaml"/);
  });

  it('kms as a string with +role and aws_profile; key_groups with merge, kms maps (role, context, aws_profile), duplicates dropped; shamir_threshold', () => {
    const flat = tree('flat', `creation_rules:\n  - kms: "${KMS1}+${ROLE}, ${KMS2}"\n    aws_profile: secrets\n    mac_only_encrypted: true\n`);
    expect(creationRuleFor('a.yaml', { cwd: flat, env: {} })).toMatchObject({
      groups: [
        [
          { type: 'kms', arn: KMS1, role: ROLE, awsProfile: 'secrets' },
          { type: 'kms', arn: KMS2, awsProfile: 'secrets' },
        ],
      ],
      macOnlyEncrypted: true,
    });
    const groups = tree(
      'groups',
      `creation_rules:
  - path_regex: (?i)\\.YAML$
    shamir_threshold: 2
    key_groups:
      - age: ["${AGE1},${AGE2}"]
        kms:
          - arn: ${KMS1}
            role: ${ROLE}
            context: { deployment: tike }
            aws_profile: prod
      - merge:
          - age: [${AGE2}]
          - age: [${AGE2}]
      - kms: [{ arn: ${KMS2} }]
`,
    );
    const rule = creationRuleFor('a.yaml', { cwd: groups, env: {} })!;
    expect(rule.threshold).toBe(2);
    expect(rule.groups).toEqual([
      [
        { type: 'age', recipient: AGE1 },
        { type: 'age', recipient: AGE2 },
        { type: 'kms', arn: KMS1, role: ROLE, context: { deployment: 'tike' }, awsProfile: 'prod' },
      ],
      [{ type: 'age', recipient: AGE2 }],
      [{ type: 'kms', arn: KMS2 }],
    ]);
  });

  it('a bad .sops.yaml is a usageError naming the file and the problem', () => {
    const cases: [string, RegExp][] = [
      ['creation_rules: [', /not valid YAML/],
      ['creation_rules: {a: 1}', /creation_rules: allowed a list of rules/],
      ['- 1', /the document: allowed a mapping/],
      [`creation_rules:\n  - path_regex: "("\n    age: ${AGE1}`, /creation_rules\[0\]\.path_regex "\(": can not compile regexp/],
      ['creation_rules:\n  - age: age1notakey', /creation_rules\[0\]\.age "age1notakey": not a valid age public key/],
      [`creation_rules:\n  - kms: ${AGE1}`, /creation_rules\[0\]\.kms "age1yt3\w+": allowed an AWS KMS key ARN/],
      [`creation_rules:\n  - age: ${AGE1}\n    pgp: ABCDEF`, /creation_rules\[0\]\.pgp: allowed only age and kms keys/],
      [`creation_rules:\n  - age: ${AGE1}\n    encrypted_regex: a\n    unencrypted_suffix: _x`, /cannot use more than one of encrypted_suffix/],
      [`creation_rules:\n  - key_groups:\n      - age: ${AGE1}`, /key_groups\[0\]\.age: allowed a list of age public keys/],
      [`creation_rules:\n  - shamir_threshold: two\n    age: ${AGE1}`, /shamir_threshold: allowed a whole number/],
      [`creation_rules:\n  - age: ${AGE1}\ncreation_rules: []`, /not valid YAML: Map keys must be unique/],
      [`creation_rules:\n  - key_groups:\n      - kms: [{ arn: ${KMS1}, role: not-a-role }]`, /kms\[0\]\.role "not-a-role": not an IAM role ARN/],
    ];
    cases.forEach(([text, expected], i) => {
      const dir = tree(`bad-${i}`, text);
      const error = usage(() => creationRuleFor('a.yaml', { cwd: dir, env: {} }));
      expect(error.exitCode, text).toBe(2);
      expect(error.message.startsWith(`${join(dir, '.sops.yaml')}: `), error.message).toBe(true);
      expect(error.message, text).toMatch(expected);
    });
  });

  it('Go regular expressions: leading flags, (?P<name>…), \\A and \\z', () => {
    expect(goRegExp('(?i)^SECRETS/').test('secrets/a.yaml')).toBe(true);
    expect(goRegExp('(?P<env>prod|dev)\\.yaml\\z').exec('a/prod.yaml')?.groups?.env).toBe('prod');
    expect(goRegExp('\\Adeployments/').test('x/deployments/')).toBe(false);
    expect(goRegExp('\\Adeployments/').test('deployments/x')).toBe(true);
    // \A and \z are the text's ends even with (?m), where ^ and $ are lines'.
    expect(goRegExp('(?m)\\Ab').test('a\nb')).toBe(false);
    expect(goRegExp('(?m)a\\z').test('a\nb')).toBe(false);
    expect(goRegExp('(?m)b\\z').test('a\nb')).toBe(true);
    // An escaped backslash before A or z is a backslash, then the letter.
    expect(goRegExp('x\\\\z').test('x\\z')).toBe(true);
    // Ungreedy (?U) changes what a match captures, not whether there is one.
    expect(goRegExp('(?Ui)^a+$').test('AAA')).toBe(true);
    // RE2 escapes Unicode mode refuses.
    expect(goRegExp('a\\_b').test('a_b')).toBe(true);
    let refused: unknown;
    try {
      goRegExp('(');
    } catch (error) {
      refused = error;
    }
    expect(refused).toBeInstanceOf(RuleError);
    expect((refused as RuleError).cause).toBeInstanceOf(SyntaxError);
  });

  it('a path_regex is matched as Go matches it ((?U) and \\A accepted)', () => {
    const dir = tree('go-syntax', `creation_rules:\n  - path_regex: (?U)\\Asecrets/.+\\.yaml\\z\n    age: ${AGE1}\n  - age: ${AGE2}\n`);
    expect(creationRuleFor('secrets/a.yaml', { cwd: dir, env: {} })?.index).toBe(0);
    expect(creationRuleFor('other/secrets/a.yaml', { cwd: dir, env: {} })?.index).toBe(1);
  });
});

describe('recipients', () => {
  it('parses age keys and KMS ARNs (key, alias, +role) as sops does; anything else is a usageError naming where it came from', () => {
    expect(parseRecipient(` ${AGE1} `, '--age')).toEqual({ type: 'age', recipient: AGE1 });
    expect(parseRecipient(`${KMS1}+${ROLE}`, '--kms')).toEqual({ type: 'kms', arn: KMS1, role: ROLE });
    expect(parseRecipient(KMS2, '--kms')).toEqual({ type: 'kms', arn: KMS2 });
    expect(parseRecipient('arn:aws-us-gov:kms:us-gov-west-1:123456789012:key/abc', '--kms')).toMatchObject({ type: 'kms' });
    const cases: [string, RegExp][] = [
      ['gpg:ABCDEF', /^--recipient "gpg:ABCDEF": allowed an age public key \(age1…\) or an AWS KMS key ARN/],
      [AGE1.slice(0, -1) + 'q', /not a valid age public key/], // checksum
      ['age1plugin1qqqq', /not a valid age public key \(plugin recipients are not supported\)/],
      ['arn:aws:kms:us-east-1:123456789012:secret/x', /not a KMS key ARN/],
      [`${KMS1}+arn:aws:iam::123456789012:user/bob`, /not an IAM role ARN/],
      ['ssh-ed25519 AAAA', /allowed an age public key/],
    ];
    for (const [text, expected] of cases) {
      let error: (Error & { exitCode?: number }) | undefined;
      try {
        parseRecipient(text, '--recipient');
      } catch (e) {
        error = e as Error;
      }
      expect(error?.exitCode, text).toBe(2);
      expect(error?.message, text).toMatch(expected);
    }
    // A private key given by mistake is not echoed.
    const secret = 'AGE-SECRET-KEY-1QQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQ';
    let message = '';
    try {
      parseRecipient(secret, '--age');
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toMatch(/^--age: that is an age identity \(a private key\), not a recipient/);
    expect(message).not.toContain(secret.slice(15));
    expect(() => parseRecipient(KMS1, '--age', 'age')).toThrow(/allowed an age public key \(age1…\)$/);
  });

  it('recipientsOf: each group of a file, KMS entries with role, context and profile', () => {
    const groups = recipientsOf({
      keyGroups: [
        { age: [{ recipient: AGE1, enc: 'x' }], kms: [{ arn: KMS1, role: ROLE, context: { a: 'b' }, created_at: 'c', enc: 'e', aws_profile: 'p' }], other: {} },
        { age: [], kms: [{ arn: KMS2, created_at: 'c', enc: 'e', aws_profile: '' }], other: { pgp: [{}] } },
      ],
    });
    expect(groups).toEqual([
      [
        { type: 'age', recipient: AGE1 },
        { type: 'kms', arn: KMS1, role: ROLE, context: { a: 'b' }, awsProfile: 'p' },
      ],
      [{ type: 'kms', arn: KMS2 }],
    ]);
  });
});
