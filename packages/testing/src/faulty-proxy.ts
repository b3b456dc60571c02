import { createServer, request, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';

/** What the proxy does with one request: pass it on, answer it itself, or drop the connection. */
export type Fault = 'pass' | 'reset' | { status: number; body?: object | string };

export interface FaultyProxy {
  /** 127.0.0.1:PORT: use it as the registry (the Engine talks plain HTTP to loopback). */
  host: string;
  /** Every request seen, as `METHOD path` (query dropped), with what was done to it. */
  seen: { request: string; fault: 'pass' | 'reset' | number }[];
  stop(): Promise<void>;
}

/**
 * A real registry behind a proxy that fails the requests `decide` picks: an HTTP status of its
 * choosing (with a distribution-API error body), or a connection dropped without an answer (what
 * the Engine reports as EOF or a reset). Everything else goes through untouched, Host kept so
 * the registry's Location headers point back here.
 */
export async function startFaultyProxy(upstream: string, decide: (req: IncomingMessage, path: string) => Fault): Promise<FaultyProxy> {
  const [upHost, upPort] = upstream.split(':');
  const proxy: FaultyProxy = { host: '', seen: [], stop: async () => undefined };
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://proxy').pathname;
    const fault = decide(req, path);
    proxy.seen.push({ request: `${req.method} ${path}`, fault: typeof fault === 'string' ? fault : fault.status });
    if (fault === 'reset') {
      req.socket.destroy();
      return;
    }
    if (fault !== 'pass') {
      const body = typeof fault.body === 'string' ? fault.body : JSON.stringify(fault.body ?? { errors: [{ code: 'UNKNOWN', message: `proxy answers ${fault.status}` }] });
      req.resume();
      res.writeHead(fault.status, { 'content-type': typeof fault.body === 'string' ? 'text/plain' : 'application/json' });
      res.end(body);
      return;
    }
    const out = request({ host: upHost, port: Number(upPort), method: req.method, path: req.url, headers: req.headers }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    out.on('error', (error) => {
      res.writeHead(502);
      res.end(String(error));
    });
    req.pipe(out);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  proxy.host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  proxy.stop = () =>
    new Promise((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  return proxy;
}
