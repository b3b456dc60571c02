import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';

/**
 * One HTTP exchange over node:http(s), nothing more: no redirects, no auth, no retries (the
 * caller decides those). node:http rather than fetch: exact Content-Length on streamed bodies,
 * Node's own socket error codes (ECONNRESET…) for the retry decision, redirects left to us so
 * credentials never follow one to another origin.
 */
export interface SendOptions {
  method: string;
  headers?: Record<string, string>;
  body?: Buffer | Readable;
  /** Idle socket time before the request fails with ETIMEDOUT. */
  timeoutMs?: number;
}

export interface Sent {
  status: number;
  headers: IncomingHttpHeaders;
  /** The response body, unread: consume it (readBody) or drop it (discard). */
  message: IncomingMessage;
}

const DEFAULT_TIMEOUT_MS = 60_000;

export function send(url: URL, options: SendOptions): Promise<Sent> {
  // Loaded here, not at the top: bins that never talk to a registry do not pay for node:https.
  const transport = url.protocol === 'https:' ? (require('node:https') as typeof import('node:https')) : (require('node:http') as typeof import('node:http'));
  return new Promise((resolve, reject) => {
    const req = transport.request(url, { method: options.method, headers: options.headers });
    req.setTimeout(options.timeoutMs ?? DEFAULT_TIMEOUT_MS, () => {
      req.destroy(Object.assign(new Error(`no answer for ${Math.round((options.timeoutMs ?? DEFAULT_TIMEOUT_MS) / 1000)}s`), { code: 'ETIMEDOUT' }));
    });
    req.once('error', reject);
    req.once('response', (message) => resolve({ status: message.statusCode ?? 0, headers: message.headers, message }));
    const body = options.body;
    if (body === undefined) req.end();
    else if (Buffer.isBuffer(body)) req.end(body);
    else {
      body.once('error', (error) => req.destroy(error));
      body.pipe(req);
    }
  });
}

/** Reads a response body, up to `limit` bytes (a registry's JSON answers are small). */
export async function readBody(message: IncomingMessage, limit = 32 * 1024 * 1024): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of message) {
    size += (chunk as Buffer).length;
    if (size > limit) {
      message.destroy();
      throw Object.assign(new Error(`response larger than ${limit} bytes`), { code: 'ETOOLARGE' });
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** Drops a response body so its socket goes back to the pool. */
export function discard(message: IncomingMessage): void {
  message.resume();
}

const TRANSIENT_CODES = new Set(['ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ECONNABORTED', 'EAI_AGAIN', 'ENETUNREACH', 'EHOSTUNREACH']);

/** A network failure worth another try: reset, timeout, hang-up (not a refused connection or bad TLS). */
export function isTransientError(error: unknown): boolean {
  const code = (error as { code?: unknown })?.code;
  if (typeof code === 'string' && TRANSIENT_CODES.has(code)) return true;
  return /socket hang up/i.test((error as Error)?.message ?? '');
}

/** A status worth another try: the server's trouble (5xx) or its rate limit (429). */
export function isTransientStatus(status: number): boolean {
  return status === 429 || (status >= 500 && status <= 599);
}

/** How a network error reads in one line: its code and Node's message. */
export function describeError(error: unknown): string {
  const code = (error as { code?: unknown })?.code;
  const message = String((error as Error)?.message ?? error).replace(/\s+/g, ' ').trim();
  return typeof code === 'string' && !message.includes(code) ? `${code} ${message}` : message;
}
