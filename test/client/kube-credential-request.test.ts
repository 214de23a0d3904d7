import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requestX509Certificate } from '../../src/client/kube-credential-request.ts';
import { ErrorCodes } from '../../src/errors.ts';

/** A server impersonating the jitca API that refuses with whatever `reply` holds. */
let server: http.Server;
let base: string;
let reply: Record<string, unknown> = {};

beforeAll(async () => {
  server = http.createServer((request, response) => {
    request.resume();
    request.on('end', () => {
      response.writeHead(403, { 'content-type': 'application/json' });
      response.end(JSON.stringify(reply));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

describe('requestX509Certificate refusals on their way to kubectl\'s terminal', () => {
  it('escapes control characters in the message and keeps only codes that look like jitca codes', async () => {
    reply = { code: 'ERR_\u001b]0;x\u0007', message: 'denied\u001b[2J' };
    await expect(requestX509Certificate(base, 'token', { csr: 'x' })).rejects.toMatchObject({ code: ErrorCodes.SERVER_REFUSED, message: 'denied\\u001b[2J' });
    reply = { code: ErrorCodes.POLICY_DENIED, message: 'no role for cluster prod' };
    await expect(requestX509Certificate(base, 'token', { csr: 'x' })).rejects.toMatchObject({ code: ErrorCodes.POLICY_DENIED, message: 'no role for cluster prod' });
  });
});
