import { createHash, randomBytes } from 'node:crypto';
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { startRegistry, type Registry as TestRegistry } from '@imagewright/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DistributionRegistry } from './distribution';

const sha256 = (data: Buffer) => `sha256:${createHash('sha256').update(data).digest('hex')}`;

let registry: TestRegistry;
let client: DistributionRegistry;

/** A blob as a plain GET with basic auth reads it: not through the client under test. */
async function fetchBlob(repo: string, digest: string): Promise<{ status: number; body: Buffer }> {
  const auth = Buffer.from(`${registry.username}:${registry.password}`).toString('base64');
  const res = await fetch(`http://${registry.host}/v2/${repo}/blobs/${digest}`, { headers: { authorization: `Basic ${auth}` } });
  return { status: res.status, body: Buffer.from(await res.arrayBuffer()) };
}

/** `data` as a stream of pieces of `piece` bytes (not aligned with any chunk size). */
function piecesOf(data: Buffer, piece: number): Readable {
  const pieces: Buffer[] = [];
  for (let offset = 0; offset < data.length; offset += piece) pieces.push(data.subarray(offset, offset + piece));
  return Readable.from(pieces);
}

/** A loopback proxy in front of the registry that counts the PATCH requests it forwards. */
async function patchCounter(): Promise<{ host: string; patches: () => number; close(): Promise<void> }> {
  let patches = 0;
  const server = createServer((req, res) => {
    if (req.method === 'PATCH') patches++;
    const [hostname, port] = registry.host.split(':');
    const upstream = request({ hostname, port: Number(port), method: req.method, path: req.url, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode!, answer.headers);
      answer.pipe(res);
    });
    upstream.once('error', () => res.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    host: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    patches: () => patches,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

beforeAll(async () => {
  registry = await startRegistry();
  client = new DistributionRegistry(registry.host, { credentials: { username: registry.username, password: registry.password }, env: {} });
});

afterAll(async () => {
  await registry?.stop();
});

describe('uploadBlobStream', () => {
  it.each([
    ['one chunk (default size)', 50_000, undefined, 1234],
    ['many chunks, the last one short', 100_000, 7_000, 999],
    ['chunks that divide the size exactly', 64 * 1024, 16 * 1024, 5000],
  ])('%s: digest and size of the bytes; the registry serves them', async (_name, length, chunkSize, piece) => {
    const data = randomBytes(length);
    expect((await fetchBlob('streamed', sha256(data))).status).toBe(404);
    const proxy = await patchCounter();
    let result: { digest: string; size: number };
    try {
      // Host kept by the proxy: the registry's Location headers point back through it.
      const viaProxy = new DistributionRegistry(proxy.host, { credentials: { username: registry.username, password: registry.password }, env: {} });
      result = await viaProxy.uploadBlobStream('streamed', piecesOf(data, piece), chunkSize ? { chunkSize } : {});
      expect(proxy.patches()).toBe(Math.ceil(length / (chunkSize ?? 16 * 1024 * 1024)));
    } finally {
      await proxy.close();
    }
    expect(result).toEqual({ digest: sha256(data), size: data.length });
    const back = await fetchBlob('streamed', result.digest);
    expect(back.status).toBe(200);
    expect(back.body.equals(data)).toBe(true);
    expect(await client.headBlob('streamed', result.digest)).toEqual({ digest: result.digest, size: data.length });
  });

  it('an empty stream is the empty blob', async () => {
    const result = await client.uploadBlobStream('streamed', Readable.from([]));
    expect(result).toEqual({ digest: sha256(Buffer.alloc(0)), size: 0 });
    expect((await fetchBlob('streamed', result.digest)).status).toBe(200);
  });

  it('a stream that fails midway rejects with its error and stores nothing', async () => {
    const data = randomBytes(30_000);
    const failing = new Readable({
      read() {
        this.push(data.subarray(0, 10_000));
        this.destroy(new Error('source broke'));
      },
    });
    await expect(client.uploadBlobStream('streamed', failing, { chunkSize: 4096 })).rejects.toThrow('source broke');
    expect((await fetchBlob('streamed', sha256(data))).status).toBe(404);
    expect((await fetchBlob('streamed', sha256(data.subarray(0, 10_000)))).status).toBe(404);
  });
});
