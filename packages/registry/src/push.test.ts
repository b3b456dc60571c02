import { failure, usageError } from '@imagewright/core';
import { describe, expect, it } from 'vitest';
import { passwordFromStdin } from './login';
import { classifyRegistryError, withRegistryRetry } from './push';

describe('classifyRegistryError: the Engine messages seen from docker 20.10 pushes and pulls', () => {
  it.each([
    ['received unexpected HTTP status: 503 Service Unavailable', 503, 'HTTP 503 Service Unavailable', true],
    ['received unexpected HTTP status: 500 Internal Server Error', 500, 'HTTP 500 Internal Server Error', true],
    ['unauthorized: authentication required', 401, 'HTTP 401 Unauthorized', false],
    ['denied', 403, 'HTTP 403 Forbidden', false],
    ['denied: requested access to the resource is denied', 403, 'HTTP 403 Forbidden', false],
    ['name unknown: repository name not known to registry', 404, 'HTTP 404 Not Found', false],
    ['(HTTP code 404) unexpected - manifest for 127.0.0.1:5000/a/b:x not found: manifest unknown: manifest unknown', 404, 'HTTP 404 Not Found', false],
    ['toomanyrequests: You have reached your pull rate limit', 429, 'HTTP 429 Too Many Requests', true],
  ])('%s → %s', (message, status, what, transient) => {
    expect(classifyRegistryError(message)).toEqual({ status, what, transient });
  });

  it.each([
    'Put "http://127.0.0.1:45567/v2/exp/bb/manifests/t1": EOF',
    'read tcp 127.0.0.1:40750->127.0.0.1:37039: read: connection reset by peer',
    'write tcp 127.0.0.1:40750->127.0.0.1:37039: use of closed network connection',
    'net/http: TLS handshake timeout',
  ])('a network failure is transient, shown as is: %s', (message) => {
    expect(classifyRegistryError(message)).toEqual({ status: undefined, what: message, transient: true });
  });

  it('a refused connection or an unknown message is not transient', () => {
    expect(classifyRegistryError('dial tcp 127.0.0.1:1: connect: connection refused').transient).toBe(false);
    expect(classifyRegistryError('something else\nsecond line')).toEqual({ status: undefined, what: 'something else', transient: false });
  });
});

describe('withRegistryRetry', () => {
  const target = { registry: 'reg.example:5000', repository: 'team/app' };
  const delays = [0, 0, 0];

  it('tries again after transient failures and returns the first success', async () => {
    const seen: string[] = [];
    let n = 0;
    const result = await withRegistryRetry('push of x', target, async () => {
      n++;
      if (n === 1) throw failure('received unexpected HTTP status: 502 Bad Gateway');
      if (n === 2) throw failure('Put "http://reg.example:5000/v2/team/app/manifests/1": EOF');
      return 'ok';
    }, { delays, onRetry: (f, attempt, attempts) => seen.push(`${f.what} ${attempt}/${attempts}`) });
    expect(result).toBe('ok');
    expect(seen).toEqual(['HTTP 502 Bad Gateway 2/4', 'Put "http://reg.example:5000/v2/team/app/manifests/1": EOF 3/4']);
  });

  it('gives up after the last try with one line naming registry, repository, what and status', async () => {
    let n = 0;
    const error = await withRegistryRetry('push of x', target, async () => {
      n++;
      throw failure('received unexpected HTTP status: 503 Service Unavailable');
    }, { delays }).catch((e) => e);
    expect(n).toBe(4);
    expect(error.exitCode).toBe(1);
    expect(error.message).toBe('registry reg.example:5000: team/app: push of x: HTTP 503 Service Unavailable (after 4 tries)');
  });

  it('does not retry what is not transient, and passes usage errors through untouched', async () => {
    let n = 0;
    const denied = await withRegistryRetry('push of x', target, async () => {
      n++;
      throw failure('denied: requested access to the resource is denied');
    }, { delays }).catch((e) => e);
    expect(n).toBe(1);
    expect(denied.message).toBe('registry reg.example:5000: team/app: push of x: HTTP 403 Forbidden');
    const usage = await withRegistryRetry('push of x', target, async () => {
      throw usageError('bad input');
    }, { delays }).catch((e) => e);
    expect(usage).toMatchObject({ exitCode: 2, message: 'bad input' });
  });
});

describe('passwordFromStdin', () => {
  it('drops one trailing newline (\\n or \\r\\n), keeps everything else', () => {
    expect(passwordFromStdin('s3cret\n')).toBe('s3cret');
    expect(passwordFromStdin('s3cret\r\n')).toBe('s3cret');
    expect(passwordFromStdin(' spaced pass ')).toBe(' spaced pass ');
  });

  it('refuses empty input and more than one line (exit 2)', () => {
    for (const text of ['', '\n', 'a\nb\n', 'a\n\n']) expect(() => passwordFromStdin(text)).toThrow(expect.objectContaining({ exitCode: 2 }));
  });
});
