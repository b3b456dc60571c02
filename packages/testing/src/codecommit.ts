import { spawn, spawnSync } from 'node:child_process';
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

/*
 * A stand-in for AWS CodeCommit's git endpoint: bare repositories made by the test, served over
 * smart HTTP by Debian's `git http-backend` (run as a CGI program per request) at
 * /v1/repos/<name>, behind CodeCommit's HTTP Basic scheme: the username is an access key id
 * (`AKID` or `AKID%SessionToken`), the password `<YYYYMMDDTHHMMSS>Z<hex SigV4 signature>` of the
 * pseudo-request `GIT /v1/repos/<name>` for the host (port dropped), service `codecommit`,
 * checked with the key's secret. The secret comes from `secretFor` (the test's lookup), and/or
 * from STS itself: given `sts` (the ECR/STS stand-in's endpoint and env), this server also relays
 * STS requests to it and learns the keys each AssumeRole hands out, as CodeCommit would know them
 * through IAM. Clients then use `env`, whose STS endpoint is this server.
 *
 * Answers: no Authorization → 401 with `WWW-Authenticate: Basic` (git then asks its credential
 * helper); credentials that do not verify → 403, as CodeCommit answers (git gives up); an unknown
 * repository → 404. Not modelled: IAM policies (every known key may read and push), expiry of
 * temporary keys, repository creation through the API, the codecommit:// scheme.
 */

export interface CodeCommitKey {
  secretAccessKey: string;
  /** Temporary keys: the token that must ride along in the username. */
  sessionToken?: string;
}

export interface CodeCommitOptions {
  /** The secret behind an access key id, or undefined for a key AWS never issued. */
  secretFor?: (accessKeyId: string) => CodeCommitKey | undefined;
  /** The ECR/STS stand-in (startEcr): STS is relayed through this server and its keys are known. */
  sts?: { endpoint: string; env: Record<string, string> };
  /** The region signatures must be scoped to; us-east-1 when omitted. */
  region?: string;
}

/** One git request as the stand-in saw it. */
export interface CodeCommitRequest {
  method: string;
  /** The URL path, query dropped. */
  path: string;
  repository?: string;
  /** The access key id of the Basic credentials; '' when there were none. */
  accessKeyId: string;
  /** Whether it was authenticated (and so handed to git http-backend). */
  ok: boolean;
  status: number;
  /** Why it was refused. */
  reason?: string;
  /** The request body's Content-Encoding (git gzips large fetch requests). */
  contentEncoding?: string;
}

export interface CodeCommit {
  /** http://127.0.0.1:PORT */
  endpoint: string;
  /** The clone URL of a repository: `${endpoint}/v1/repos/<name>`. */
  urlOf(name: string): string;
  /** Makes the bare repository `name` (branch main), holding one commit of `files` when given. Returns its path. */
  createRepository(name: string, files?: Record<string, string>): string;
  /** The bare repository's directory. */
  repositoryPath(name: string): string;
  /** Every git request, in order (STS relays are not recorded here). */
  requests: CodeCommitRequest[];
  /** Given `sts`: its env with AWS_ENDPOINT_URL_STS pointing here (merge over process.env). */
  env: Record<string, string>;
  stop(): Promise<void>;
}

const REPO_PATH = /^\/v1\/repos\/([A-Za-z0-9_.-]{1,100})(\/.*)?$/;
const SERVICE_SUFFIX = /\/(info\/refs|git-upload-pack|git-receive-pack|HEAD|objects\/.*)$/;

const hmac = (key: Buffer | string, data: string) => createHmac('sha256', key).update(data, 'utf8').digest();
const sha256 = (data: string) => createHash('sha256').update(data, 'utf8').digest('hex');

/** The signature CodeCommit expects for `GIT <path>` on `host` at `timestamp` (server side). */
function expectedSignature(secret: string, region: string, host: string, path: string, timestamp: string): string {
  const day = timestamp.slice(0, 8);
  const canonicalRequest = ['GIT', path, '', `host:${host}`, '', 'host', ''].join('\n');
  const stringToSign = ['AWS4-HMAC-SHA256', timestamp, `${day}/${region}/codecommit/aws4_request`, sha256(canonicalRequest)].join('\n');
  let key = hmac(`AWS4${secret}`, day);
  for (const part of [region, 'codecommit', 'aws4_request']) key = hmac(key, part);
  return hmac(key, stringToSign).toString('hex');
}

const xmlText = (xml: string, tag: string) =>
  new RegExp(`<${tag}>([^<]*)</${tag}>`)
    .exec(xml)?.[1]
    ?.replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&amp;/g, '&');

function gitSync(args: string[], cwd?: string): void {
  const run = spawnSync('git', args, {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null', GIT_AUTHOR_NAME: 'Stand-in', GIT_AUTHOR_EMAIL: 'stand-in@example.org', GIT_COMMITTER_NAME: 'Stand-in', GIT_COMMITTER_EMAIL: 'stand-in@example.org' },
  });
  if (run.status !== 0) throw new Error(`git ${args.join(' ')} failed: ${run.stderr}`);
}

/** The CodeCommit stand-in on loopback. */
export async function startCodeCommit(options: CodeCommitOptions = {}): Promise<CodeCommit> {
  if (!options.secretFor && !options.sts) throw new Error('startCodeCommit: give secretFor, sts, or both (the stand-in must know the keys it accepts)');
  const region = options.region ?? 'us-east-1';
  const root = mkdtempSync(join(tmpdir(), 'imagewright-codecommit-'));
  const requests: CodeCommitRequest[] = [];
  /** Keys learnt from STS: the stand-in's long-term key and every AssumeRole answer relayed. */
  const learnt = new Map<string, CodeCommitKey>();
  if (options.sts) {
    const { AWS_ACCESS_KEY_ID: id, AWS_SECRET_ACCESS_KEY: secret } = options.sts.env;
    if (id && secret) learnt.set(id, { secretAccessKey: secret });
  }
  const keyOf = (id: string) => learnt.get(id) ?? options.secretFor?.(id);

  const repositoryPath = (name: string) => join(root, `${name}.git`);

  /** The refusal, or undefined when the Basic credentials verify for `repoPath` on `host`. */
  function refuse(req: IncomingMessage, repoPath: string, call: CodeCommitRequest): { status: number; reason: string } | undefined {
    const auth = req.headers.authorization ?? '';
    if (!auth.startsWith('Basic ')) return { status: 401, reason: 'no credentials' };
    const decoded = Buffer.from(auth.slice(6), 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) return { status: 403, reason: 'malformed Basic credentials' };
    const user = decoded.slice(0, colon);
    const password = decoded.slice(colon + 1);
    const percent = user.indexOf('%');
    const accessKeyId = percent < 0 ? user : user.slice(0, percent);
    const token = percent < 0 ? undefined : user.slice(percent + 1);
    call.accessKeyId = accessKeyId;
    const key = keyOf(accessKeyId);
    if (!key) return { status: 403, reason: 'unknown access key id' };
    if ((key.sessionToken ?? undefined) !== token) return { status: 403, reason: 'session token does not match the key' };
    const m = /^(\d{8}T\d{6})Z([0-9a-f]{64})$/.exec(password);
    if (!m) return { status: 403, reason: 'password is not <YYYYMMDDTHHMMSS>Z<signature>' };
    const [, timestamp, signature] = m;
    const t = timestamp!;
    const when = Date.parse(`${t.slice(0, 4)}-${t.slice(4, 6)}-${t.slice(6, 8)}T${t.slice(9, 11)}:${t.slice(11, 13)}:${t.slice(13, 15)}Z`);
    if (!Number.isFinite(when) || Math.abs(Date.now() - when) > 15 * 60_000) return { status: 403, reason: 'signature time is more than 15 minutes away' };
    const host = String(req.headers.host ?? '').replace(/:\d+$/, '');
    const expected = Buffer.from(expectedSignature(key.secretAccessKey, region, host, repoPath, t));
    if (!timingSafeEqual(expected, Buffer.from(signature!))) return { status: 403, reason: 'signature does not match' };
    return undefined;
  }

  /** Runs git http-backend for one request and relays its CGI answer. */
  function backend(req: IncomingMessage, res: ServerResponse, name: string, rest: string, user: string): void {
    const url = new URL(req.url ?? '/', 'http://stand-in');
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: root,
      GIT_CONFIG_NOSYSTEM: '1',
      GIT_CONFIG_GLOBAL: '/dev/null',
      GIT_PROJECT_ROOT: root,
      GIT_HTTP_EXPORT_ALL: '1',
      PATH_INFO: `/${name}${rest}`,
      REQUEST_METHOD: req.method ?? 'GET',
      QUERY_STRING: url.search.slice(1),
      REMOTE_USER: user,
      REMOTE_ADDR: req.socket.remoteAddress ?? '127.0.0.1',
    };
    if (req.headers['content-type']) env.CONTENT_TYPE = String(req.headers['content-type']);
    if (req.headers['content-length']) env.CONTENT_LENGTH = String(req.headers['content-length']);
    // git gzips large request bodies; http-backend inflates them itself when told.
    if (req.headers['content-encoding']) env.HTTP_CONTENT_ENCODING = String(req.headers['content-encoding']);
    if (req.headers['git-protocol']) env.GIT_PROTOCOL = String(req.headers['git-protocol']);
    const child = spawn('git', ['http-backend'], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    req.pipe(child.stdin);
    child.stdin.on('error', () => undefined); // http-backend may answer before reading everything
    let head = Buffer.alloc(0);
    let started = false;
    child.stdout.on('data', (chunk: Buffer) => {
      if (started) return void res.write(chunk);
      head = Buffer.concat([head, chunk]);
      const text = head.toString('latin1');
      const end = text.search(/\r?\n\r?\n/);
      if (end < 0) return;
      const sep = /\r?\n\r?\n/.exec(text)!;
      let status = 200;
      const headers: Record<string, string> = {};
      for (const line of text.slice(0, end).split(/\r?\n/)) {
        const colon = line.indexOf(':');
        if (colon <= 0) continue;
        const key = line.slice(0, colon).trim();
        const value = line.slice(colon + 1).trim();
        if (key.toLowerCase() === 'status') status = Number(value.split(' ')[0]) || 500;
        else headers[key] = value;
      }
      res.writeHead(status, headers);
      started = true;
      const body = head.subarray(Buffer.byteLength(text.slice(0, end + sep[0].length), 'latin1'));
      if (body.length) res.write(body);
    });
    child.on('close', (code) => {
      if (!started) {
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(`git http-backend exited ${code}: ${stderr}`);
        return;
      }
      res.end();
    });
  }

  /** STS through this server: relayed as is (Host kept: it is signed), AssumeRole answers remembered. */
  function relaySts(req: IncomingMessage, res: ServerResponse): void {
    const upstream = new URL(options.sts!.endpoint);
    const out = httpRequest({ host: upstream.hostname, port: Number(upstream.port), method: req.method, path: req.url, headers: req.headers }, (up) => {
      const chunks: Buffer[] = [];
      up.on('data', (c: Buffer) => chunks.push(c));
      up.on('end', () => {
        const body = Buffer.concat(chunks);
        const xml = body.toString('utf8');
        if (up.statusCode === 200 && xml.includes('<AssumeRoleResult>')) {
          const id = xmlText(xml, 'AccessKeyId');
          const secretAccessKey = xmlText(xml, 'SecretAccessKey');
          if (id && secretAccessKey) learnt.set(id, { secretAccessKey, sessionToken: xmlText(xml, 'SessionToken') });
        }
        res.writeHead(up.statusCode ?? 502, up.headers);
        res.end(body);
      });
    });
    out.on('error', (error) => {
      res.writeHead(502);
      res.end(String(error));
    });
    req.pipe(out);
  }

  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://stand-in').pathname;
    const m = REPO_PATH.exec(path);
    if (!m) {
      if (options.sts && req.method === 'POST') return relaySts(req, res);
      res.writeHead(404, { 'content-type': 'text/plain' });
      return void res.end('not a CodeCommit repository path\n');
    }
    const name = m[1]!;
    const rest = m[2] ?? '';
    // What git signed: the repository URL's path, i.e. the request path less the smart-HTTP part.
    const repoPath = path.replace(SERVICE_SUFFIX, '');
    const call: CodeCommitRequest = { method: req.method ?? '', path, repository: name, accessKeyId: '', ok: false, status: 0 };
    if (req.headers['content-encoding']) call.contentEncoding = String(req.headers['content-encoding']);
    requests.push(call);
    const refusal = refuse(req, repoPath, call);
    if (refusal) {
      call.status = refusal.status;
      call.reason = refusal.reason;
      req.resume();
      const headers: Record<string, string> = { 'content-type': 'text/plain' };
      if (refusal.status === 401) headers['www-authenticate'] = 'Basic realm="CodeCommit stand-in"';
      res.writeHead(refusal.status, headers);
      return void res.end(`${refusal.reason}\n`);
    }
    call.ok = true;
    if (!rest || !SERVICE_SUFFIX.test(path)) {
      call.status = 404;
      res.writeHead(404);
      return void res.end();
    }
    if (!existsSync(repositoryPath(name))) {
      call.status = 404;
      call.reason = 'no such repository';
      req.resume();
      res.writeHead(404, { 'content-type': 'text/plain' });
      return void res.end(`repository ${name} does not exist\n`);
    }
    call.status = 200;
    res.on('finish', () => (call.status = res.statusCode));
    backend(req, res, name, rest, call.accessKeyId);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const createRepository = (name: string, files?: Record<string, string>): string => {
    if (!/^[A-Za-z0-9_.-]{1,100}$/.test(name)) throw new Error(`createRepository ${JSON.stringify(name)}: allowed CodeCommit's repository name characters`);
    const bare = repositoryPath(name);
    gitSync(['init', '--quiet', '--bare', '--initial-branch=main', bare]);
    if (files && Object.keys(files).length) {
      const work = mkdtempSync(join(tmpdir(), 'imagewright-codecommit-seed-'));
      try {
        gitSync(['init', '--quiet', '--initial-branch=main', work]);
        for (const [file, content] of Object.entries(files)) {
          mkdirSync(dirname(join(work, file)), { recursive: true });
          writeFileSync(join(work, file), content);
        }
        gitSync(['add', '--all'], work);
        gitSync(['commit', '--quiet', '-m', 'seed'], work);
        gitSync(['push', '--quiet', bare, 'main'], work);
      } finally {
        rmSync(work, { recursive: true, force: true });
      }
    }
    return bare;
  };

  const env: Record<string, string> = options.sts ? { ...options.sts.env, AWS_ENDPOINT_URL_STS: endpoint } : {};
  let stopped: Promise<void> | undefined;
  const stop = () =>
    (stopped ??= new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }).then(() => rmSync(root, { recursive: true, force: true })));
  return { endpoint, urlOf: (name) => `${endpoint}/v1/repos/${name}`, createRepository, repositoryPath, requests, env, stop };
}

/** Debian's aws CLI (package awscli): its `codecommit credential-helper` is the oracle for CodeCommit's credentials. */
export const AWSCLI_PYTHON = '/usr/bin/python3';
export const AWSCLI = '/usr/bin/aws';

/** Throws (never skips) unless Debian's awscli is installed. */
export function requireAwscli(): void {
  const probe = spawnSync(AWSCLI_PYTHON, ['-c', 'import awscli.customizations.codecommit'], { encoding: 'utf8' });
  if (probe.status !== 0) throw new Error(`Debian's awscli is not installed (${AWSCLI_PYTHON} cannot import awscli.customizations.codecommit): apt-get install awscli (tools/bootstrap)`);
}

// awscli's own `codecommit credential-helper`, with datetime.utcnow() frozen when a time is given.
const FROZEN_AWSCLI = `
import sys, datetime, types
frozen = sys.argv[1]
from awscli.customizations import codecommit
if frozen:
    moment = datetime.datetime.strptime(frozen, '%Y%m%dT%H%M%S')
    class Frozen(datetime.datetime):
        @classmethod
        def utcnow(cls):
            return moment
    codecommit.datetime = types.SimpleNamespace(datetime=Frozen)
import awscli.clidriver
sys.exit(awscli.clidriver.AWSCLIEntryPoint().main(['codecommit', 'credential-helper'] + sys.argv[2:]))
`;

/**
 * Runs `aws codecommit credential-helper <args>` (Debian's awscli, in process: its clock frozen at
 * `at` when given) with git's request on stdin; returns its stdout. `env` should hold the
 * credentials (AWS_ACCESS_KEY_ID, …) and empty AWS config files, as the stand-ins' env does.
 */
export function awscliCredentialHelper(request: string, env: Record<string, string | undefined>, options: { at?: Date; args?: string[] } = {}): string {
  requireAwscli();
  const at = options.at ? options.at.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, '') : '';
  const run = spawnSync(AWSCLI_PYTHON, ['-c', FROZEN_AWSCLI, at, ...(options.args ?? ['get'])], { input: request, encoding: 'utf8', env: env as NodeJS.ProcessEnv });
  if (run.status !== 0) throw new Error(`aws codecommit credential-helper exited ${run.status}: ${run.stderr}`);
  return run.stdout;
}
