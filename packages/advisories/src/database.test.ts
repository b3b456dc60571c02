import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FIXTURES as TEST_FIXTURES, startOsvServer, writeOsvZip } from '@imagewright/testing';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { OfflineDatabase, OsvApi, openAdvisoryDatabase, readOsvDirectory, readOsvZip, type AdvisoryDatabase } from './database';
import type { OsvQuery, OsvRecord } from './osv';

const FIXTURES = join(TEST_FIXTURES, 'osv', 'pypi');
const TESTDATA = join(__dirname, '../testdata/osv');

// Expected ids per query, worked out by hand from the records (see osv.test.ts for the bounds).
const CASES: [OsvQuery, string[]][] = [
  [{ ecosystem: 'PyPI', name: 'requests', version: '2.28.1' }, ['GHSA-9999-test-reqs', 'PYSEC-2023-74']],
  [{ ecosystem: 'PyPI', name: 'requests', version: '2.31.0' }, []],
  [{ ecosystem: 'PyPI', name: 'Requests', version: '2.24.0' }, ['PYSEC-2023-74']],
  [{ ecosystem: 'PyPI', name: 'urllib3', version: '1.26.16' }, ['PYSEC-2023-192']],
  [{ ecosystem: 'PyPI', name: 'urllib3', version: '2.0.6' }, []],
  [{ ecosystem: 'PyPI', name: 'numpy', version: '1.19.0' }, ['PYSEC-2021-856']],
  [{ ecosystem: 'PyPI', name: 'Pillow', version: '9.5.0' }, ['PYSEC-2023-175']],
  [{ ecosystem: 'PyPI', name: 'tornado', version: '6.3.2' }, []],
  [{ ecosystem: 'PyPI', name: 'cryptography', version: '38.0.4' }, ['PYSEC-2023-11']],
  [{ ecosystem: 'PyPI', name: 'requests_toolbelt', version: '0.10.0' }, ['GHSA-9999-test-reqs']],
  [{ ecosystem: 'PyPI', name: 'flask', version: '2.0.0' }, []],
  [{ ecosystem: 'Debian:12', name: 'openssl', version: '3.0.11-1~deb12u1' }, ['DEBIAN-CVE-2099-0001']],
  [{ ecosystem: 'Debian:12', name: 'openssl', version: '3.0.11-1' }, []],
  [{ ecosystem: 'Debian:11', name: 'libfoo', version: '1:3.0~rc1-1' }, ['DEBIAN-CVE-2099-0002']],
  [{ ecosystem: 'Debian:12', name: 'libfoo', version: '2.9-1' }, []],
  [{ ecosystem: 'Debian:12', name: 'zlib', version: '1:1.2.13.dfsg-1' }, ['DSA-9999-1']],
  [{ ecosystem: 'Ubuntu:22.04', name: 'curl', version: '7.81.0-1ubuntu1.14' }, ['UBUNTU-CVE-2099-0004']],
  [{ ecosystem: 'Ubuntu:18.04', name: 'curl', version: '7.58.0-2ubuntu3.24' }, []],
  [{ ecosystem: 'Alpine:v3.18', name: 'busybox', version: '1.36.1_rc1-r5' }, ['ALPINE-CVE-2099-0005']],
  [{ ecosystem: 'Alpine:v3.18', name: 'busybox', version: '1.36.1_p1-r0' }, []],
  [{ ecosystem: 'npm', name: 'left-pad', version: '1.0.0-beta.11' }, ['GHSA-9999-test-npmx']],
];
const QUERIES = CASES.map(([q]) => q);
const EXPECTED = CASES.map(([, ids]) => ids);

const ids = (results: OsvRecord[][]) => results.map((list) => list.map((r) => r.id).sort());

let work: string;
let records: OsvRecord[];
let zip: string;

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'advisories-'));
  records = [...readOsvDirectory(FIXTURES), ...readOsvDirectory(TESTDATA)];
  zip = join(work, 'zips', 'all.zip');
  mkdirSync(join(work, 'zips'));
  writeOsvZip(records, zip);
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('one answer from every source', () => {
  test('the records read from the fixture and test directories', () => {
    expect(records.map((r) => r.id).sort()).toEqual([
      'ALPINE-CVE-2099-0005',
      'DEBIAN-CVE-2099-0001',
      'DEBIAN-CVE-2099-0002',
      'DSA-9999-1',
      'GHSA-9999-test-npmx',
      'GHSA-9999-test-reqs',
      'PYSEC-2021-856',
      'PYSEC-2023-11',
      'PYSEC-2023-175',
      'PYSEC-2023-192',
      'PYSEC-2023-74',
      'PYSEC-2023-75',
      'UBUNTU-CVE-2099-0004',
    ]);
  });

  test('a directory (nested, YAML and JSON)', async () => {
    const dir = join(work, 'tree');
    cpSync(FIXTURES, join(dir, 'PyPI'), { recursive: true });
    cpSync(TESTDATA, join(dir, 'more', 'deeper'), { recursive: true });
    const db = openAdvisoryDatabase(dir);
    expect(db).toBeInstanceOf(OfflineDatabase);
    expect(ids(await db.query(QUERIES))).toEqual(EXPECTED);
  });

  test("an all.zip, and a directory holding it", async () => {
    expect(readOsvZip(zip)).toHaveLength(records.length);
    expect(ids(await openAdvisoryDatabase(zip).query(QUERIES))).toEqual(EXPECTED);
    expect(ids(await openAdvisoryDatabase(join(work, 'zips')).query(QUERIES))).toEqual(EXPECTED);
  });

  test('the OSV API, one result per page', async () => {
    const server = await startOsvServer(records, { pageSize: 1 });
    try {
      const api = openAdvisoryDatabase(server.url);
      expect(api).toBeInstanceOf(OsvApi);
      const results = await api.query(QUERIES);
      expect(ids(results)).toEqual(EXPECTED);
      // Full records, not the ids+modified that querybatch answers.
      expect(results[0].find((r) => r.id === 'PYSEC-2023-74')?.affected?.[0].versions).toContain('2.28.1');
      const batches = server.requests.filter((r) => r.path === '/v1/querybatch');
      // requests is named by two records, so its queries need a second page.
      expect(batches.length).toBeGreaterThanOrEqual(2);
      expect(batches[0].queries).toBe(QUERIES.length);
      const gets = server.requests.filter((r) => r.method === 'GET').map((r) => r.path);
      expect(new Set(gets).size).toBe(gets.length);
      // A second run through the same client fetches no record again.
      const before = server.requests.length;
      expect(ids(await api.query(QUERIES))).toEqual(EXPECTED);
      expect(server.requests.slice(before).every((r) => r.path === '/v1/querybatch')).toBe(true);
    } finally {
      await server.close();
    }
  });

  test('the OSV API in batches smaller than the queries, with latency and limited concurrency', async () => {
    const server = await startOsvServer(records, { latencyMs: 20 });
    try {
      const api = new OsvApi(server.url, { batchSize: 5, concurrency: 2 });
      expect(ids(await api.query(QUERIES))).toEqual(EXPECTED);
      const batches = server.requests.filter((r) => r.path === '/v1/querybatch');
      expect(batches.map((b) => b.queries)).toEqual([5, 5, 5, 5, 1]);
    } finally {
      await server.close();
    }
  });
});

describe('failures', () => {
  test('an unknown id is a failure naming the URL', async () => {
    const server = await startOsvServer(records);
    try {
      const api = new OsvApi(server.url, { retries: 0 });
      await expect(api.record('PYSEC-0000-0')).rejects.toMatchObject({ exitCode: 1, message: expect.stringContaining(`${server.url}/v1/vulns/PYSEC-0000-0 answered 404`) });
    } finally {
      await server.close();
    }
  });

  test('an unreachable API is a failure naming the URL', async () => {
    const closed = await startOsvServer([]);
    await closed.close();
    const api = new OsvApi(closed.url, { retries: 1, retryDelayMs: 10 });
    await expect(api.query(QUERIES.slice(0, 1))).rejects.toMatchObject({ exitCode: 1, message: expect.stringContaining(`${closed.url}/v1/querybatch`) });
  });

  test('503s are retried a bounded number of times', async () => {
    const upstream = await startOsvServer(records);
    let refusals = 2;
    let seen = 0;
    const flaky = createServer(async (req, res) => {
      seen++;
      if (refusals-- > 0) {
        res.writeHead(503).end('busy');
        return;
      }
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const answer = await fetch(upstream.url + req.url, { method: req.method, body: req.method === 'POST' ? Buffer.concat(chunks) : undefined });
      res.writeHead(answer.status, { 'content-type': 'application/json' }).end(Buffer.from(await answer.arrayBuffer()));
    });
    await new Promise<void>((resolve) => flaky.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(flaky.address() as AddressInfo).port}`;
    try {
      expect(ids(await new OsvApi(url, { retries: 2, retryDelayMs: 5 }).query(QUERIES.slice(0, 1)))).toEqual(EXPECTED.slice(0, 1));
      refusals = 5;
      seen = 0;
      await expect(new OsvApi(url, { retries: 2, retryDelayMs: 5 }).query(QUERIES.slice(0, 1))).rejects.toMatchObject({
        exitCode: 1,
        message: `OSV API ${url}/v1/querybatch answered 503: busy`,
      });
      expect(seen).toBe(3);
    } finally {
      flaky.closeAllConnections();
      await new Promise((resolve) => flaky.close(resolve));
      await upstream.close();
    }
  });

  test('openAdvisoryDatabase refuses what is not a URL, directory or zip', () => {
    const file = join(work, 'record.json');
    writeFileSync(file, '{"id": "X-1", "modified": ""}');
    const notZip = join(work, 'broken.zip');
    writeFileSync(notZip, 'not a zip');
    const usage = (spec: string, pattern: RegExp) => {
      expect(() => openAdvisoryDatabase(spec)).toThrow(pattern);
      try {
        openAdvisoryDatabase(spec);
      } catch (err) {
        expect((err as { exitCode: number }).exitCode).toBe(2);
      }
    };
    usage(join(work, 'missing'), /^advisory database .*missing: no such file or directory \(expected an http\(s\) URL/);
    usage(file, /record\.json: not a directory or \.zip file/);
    usage('ftp://example.org/osv', /^advisory database ftp:\/\/example\.org\/osv: only http\(s\) URLs/);
    usage('https://exa mple.org', /not a valid URL/);
    usage(notZip, /broken\.zip: not a readable zip/);
  });

  test('a bad record in a directory names its file', () => {
    const dir = join(work, 'bad');
    mkdirSync(join(dir, 'PyPI'), { recursive: true });
    writeFileSync(join(dir, 'PyPI', 'X.yaml'), 'summary: no id here\n');
    expect(() => openAdvisoryDatabase(dir)).toThrow(/PyPI\/X\.yaml: OSV record without an id/);
  });
});

describe('offline index', () => {
  test('records by id or alias; the newer copy of an id wins', async () => {
    const pysec = records.find((r) => r.id === 'PYSEC-2023-74')!;
    const older = { ...pysec, modified: '2000-01-01T00:00:00Z', affected: [] };
    const db: AdvisoryDatabase & OfflineDatabase = new OfflineDatabase('mem', [older, ...records]);
    expect(db.record('cve-2023-32681')?.id).toBe('PYSEC-2023-74');
    expect(db.record('GHSA-j8r2-6x86-q33q')?.modified).toBe(pysec.modified);
    expect(db.size).toBe(records.length);
    expect(ids(await db.query(QUERIES))).toEqual(EXPECTED);
  });
});
