import { PassThrough, Readable, Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { followProgress, progressBar, ProgressRenderer, type JsonMessage } from './progress';

function sink() {
  let text = '';
  const stream = new Writable({
    write(chunk, _enc, done) {
      text += chunk.toString();
      done();
    },
  });
  return { stream, text: () => text };
}

const pull: JsonMessage[] = [
  { status: 'Pulling from library/x', id: 'latest' },
  { status: 'Pulling fs layer', id: 'aaa' },
  { status: 'Pulling fs layer', id: 'bbb' },
  { status: 'Downloading', id: 'aaa', progressDetail: { current: 500, total: 1000 } },
  { status: 'Downloading', id: 'aaa', progressDetail: { current: 900, total: 1000 } },
  { status: 'Download complete', id: 'aaa' },
  { status: 'Pull complete', id: 'bbb' },
];

describe('ProgressRenderer', () => {
  it('in a pipe prints each status change once per layer and no progress bars', () => {
    const out = sink();
    const render = new ProgressRenderer(out.stream, false);
    pull.forEach((m) => render.write(m));
    expect(out.text()).toBe(
      'latest: Pulling from library/x\naaa: Pulling fs layer\nbbb: Pulling fs layer\naaa: Downloading\naaa: Download complete\nbbb: Pull complete\n',
    );
  });

  it('on a terminal redraws a layer line in place with its bar', () => {
    const out = sink();
    const render = new ProgressRenderer(out.stream, true);
    pull.slice(0, 4).forEach((m) => render.write(m));
    // aaa is the 2nd of 3 lines: up 2, clear, rewrite, down 2.
    expect(out.text()).toContain(`\x1b[2A\r\x1b[2Kaaa: Downloading ${progressBar(500, 1000)}\r\x1b[2B`);
  });

  it('passes build step output through untouched', () => {
    const out = sink();
    new ProgressRenderer(out.stream, false).write({ stream: 'Step 1/2 : FROM x\n' });
    expect(out.text()).toBe('Step 1/2 : FROM x\n');
  });
});

describe('progressBar', () => {
  it('draws docker-style bars with human sizes', () => {
    expect(progressBar(0, 2000, 10)).toBe('[>         ] 0B/2kB');
    expect(progressBar(1000, 2000, 10)).toBe('[=====>    ] 1kB/2kB');
    expect(progressBar(2000, 2000, 10)).toBe('[==========] 2kB/2kB');
  });
});

describe('followProgress', () => {
  const lines = (msgs: JsonMessage[]) => Readable.from(msgs.map((m) => `${JSON.stringify(m)}\r\n`));

  it('returns the image ID of a build (aux.ID) even when split across chunks', async () => {
    const stream = new PassThrough();
    const done = followProgress(stream);
    const text = `${JSON.stringify({ stream: 'Step 1/1\n' })}\n${JSON.stringify({ aux: { ID: 'sha256:abc' } })}\n`;
    stream.write(text.slice(0, 15));
    stream.end(text.slice(15));
    expect((await done).imageId).toBe('sha256:abc');
  });

  it('returns the image ID of an import (status sha256:…)', async () => {
    const id = `sha256:${'f'.repeat(64)}`;
    expect((await followProgress(lines([{ status: id }]))).imageId).toBe(id);
  });

  it('rejects with exit code 1 on an error message, after rendering what came before', async () => {
    const out = sink();
    const result = followProgress(
      lines([{ stream: 'before\n' }, { error: 'boom', errorDetail: { message: 'The command returned a non-zero code: 3' } }]),
      new ProgressRenderer(out.stream, false),
    );
    await expect(result).rejects.toMatchObject({ exitCode: 1, message: 'The command returned a non-zero code: 3' });
    expect(out.text()).toBe('before\n');
  });
});
