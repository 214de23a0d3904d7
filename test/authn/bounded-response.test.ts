import { describe, expect, test } from 'vitest';
import { readBoundedBody } from '../../src/authn/bounded-response.ts';

/** A body of `chunks` chunks of `size` bytes, counting how many the reader pulled. */
function countedBody(chunks: number, size: number): { response: Response; pulled: () => number } {
  let pulled = 0;
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (pulled >= chunks) return controller.close();
      pulled += 1;
      controller.enqueue(new Uint8Array(size).fill(0x20));
    },
  });
  return { response: new Response(stream), pulled: () => pulled };
}

describe('readBoundedBody', () => {
  test('returns a body up to the cap whole', async () => {
    const { response } = countedBody(4, 1024);
    expect((await readBoundedBody(response, 4096))?.byteLength).toBe(4096);
  });

  test('stops reading a streamed body as soon as it passes the cap', async () => {
    const { response, pulled } = countedBody(100_000, 1024);
    expect(await readBoundedBody(response, 8 * 1024)).toBeUndefined();
    // 9 chunks pass the cap; the stream may have queued one more ahead of the reader.
    expect(pulled()).toBeLessThanOrEqual(11);
  });

  test('refuses a declared Content-Length over the cap without reading', async () => {
    const { response: streamed, pulled } = countedBody(100, 1024);
    const response = new Response(streamed.body, { headers: { 'content-length': String(100 * 1024) } });
    expect(await readBoundedBody(response, 1024)).toBeUndefined();
    expect(pulled()).toBeLessThanOrEqual(1);
  });
});
