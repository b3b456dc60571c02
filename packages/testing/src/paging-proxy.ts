// Run as a child process by startPagingProxy: `node paging-proxy.js UPSTREAM PAGE_SIZE`.
//
// The distribution API's tag-list paging in front of a real registry that does not page (Debian's
// docker-registry 2.8 ignores `n`): GET /v2/<name>/tags/list answers at most PAGE_SIZE tags (fewer
// when the client's `n` is smaller), sorted, after `last`, with a `Link: <…>; rel="next"` header
// while more remain, as the OCI distribution spec describes. Everything else passes through
// untouched (Host kept, so the registry's Location headers point back here).
// GET /_paging-proxy/stats answers {"tagPages": N}.
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';

const [upstream, size] = process.argv.slice(2);
const [upHost, upPort] = upstream.split(':');
const pageSize = Number(size) || 2;
let tagPages = 0;

const server = createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://proxy');
  if (url.pathname === '/_paging-proxy/stats') return void res.end(JSON.stringify({ tagPages }));
  const list = req.method === 'GET' ? /^\/v2\/(.+)\/tags\/list$/.exec(url.pathname) : null;
  const out = request({ host: upHost, port: Number(upPort), method: req.method, path: list ? url.pathname : req.url, headers: req.headers }, (up) => {
    if (!list || up.statusCode !== 200) {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
      return;
    }
    const chunks: Buffer[] = [];
    up.on('data', (c: Buffer) => chunks.push(c));
    up.on('end', () => {
      const all = ((JSON.parse(Buffer.concat(chunks).toString('utf8')) as { tags: string[] | null }).tags ?? []).sort();
      const asked = Number(url.searchParams.get('n'));
      const n = asked > 0 ? Math.min(asked, pageSize) : pageSize;
      const last = url.searchParams.get('last');
      const after = last === null ? all : all.filter((t) => t > last);
      const page = after.slice(0, n);
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (after.length > n) headers.link = `</v2/${list[1]}/tags/list?n=${n}&last=${encodeURIComponent(page[page.length - 1])}>; rel="next"`;
      tagPages++;
      res.writeHead(200, headers);
      res.end(JSON.stringify({ name: list[1], tags: page }));
    });
  });
  out.on('error', (error) => {
    res.writeHead(502);
    res.end(String(error));
  });
  req.pipe(out);
});
server.listen(0, '127.0.0.1', () => process.stdout.write(`listening 127.0.0.1:${(server.address() as AddressInfo).port}\n`));
process.on('SIGTERM', () => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
});
