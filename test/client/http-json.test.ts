import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requestJson } from '../../src/client/http-json.ts';
import { ErrorCodes } from '../../src/errors.ts';

/** A hostile or broken server on loopback: each path misbehaves in one way. */
let server: http.Server;
let base: string;
const trickles = new Set<NodeJS.Timeout>();

beforeAll(async () => {
  server = http.createServer((request, response) => {
    if (request.url === '/truncated') {
      // Promises 100 bytes, sends 5, then drops the connection.
      response.writeHead(200, { 'content-type': 'application/json', 'content-length': '100' });
      response.write('{"a":', () => response.socket?.destroy());
      return;
    }
    if (request.url === '/trickle') {
      // One byte well inside every idle timeout, forever: only a deadline for the whole reply stops it.
      response.writeHead(200, { 'content-type': 'application/json' });
      const timer = setInterval(() => (response.destroyed ? clearInterval(timer) : response.write(' ')), 50);
      trickles.add(timer);
      return;
    }
    response.writeHead(200, { 'content-type': 'application/json' });
    response.end('{"ok":true}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  for (const timer of trickles) clearInterval(timer);
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

describe('requestJson against a misbehaving server', () => {
  it('answers a well-formed reply', async () => {
    expect((await requestJson(`${base}/ok`)).body).toEqual({ ok: true });
  });

  it('fails with ERR_SERVER_UNREACHABLE when the connection drops mid-body (instead of never settling)', async () => {
    await expect(requestJson(`${base}/truncated`, { timeoutMs: 60_000 })).rejects.toMatchObject({ code: ErrorCodes.SERVER_UNREACHABLE });
  });

  it('gives up on a reply trickled slower than its deadline even though the socket never goes idle', async () => {
    await expect(requestJson(`${base}/trickle`, { timeoutMs: 500 })).rejects.toMatchObject({ code: ErrorCodes.SERVER_UNREACHABLE });
  });
});
