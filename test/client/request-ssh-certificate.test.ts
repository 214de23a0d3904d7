import { generateKeyPairSync } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { requestSshCertificate, timeLeft } from '../../src/client/request-ssh-certificate.ts';
import { ErrorCodes } from '../../src/errors.ts';
import { buildUserCertificate } from '../../src/ssh/certificate.ts';
import { formatAuthorizedKeysLine, sshPublicKeyFromKeyObject, type SshPublicKey } from '../../src/ssh/public-key.ts';
import { createMemorySigner } from '../support/memory-signer.ts';

/** A server impersonating the jitca API: POST /v1/ssh/certificates answers whatever `reply` holds. */
let server: http.Server;
let base: string;
let reply: Record<string, unknown> = {};
let status = 201;

const ca = createMemorySigner({ kind: 'ed25519' });
const engineerKey = sshPublicKeyFromKeyObject(generateKeyPairSync('ed25519').publicKey);
const otherKey = sshPublicKeyFromKeyObject(generateKeyPairSync('ed25519').publicKey);
const now = BigInt(Math.floor(Date.now() / 1000));

async function certificateFor(subject: SshPublicKey, validBefore = now + 600n): Promise<string> {
  const issued = await buildUserCertificate(
    { subject, serial: 42n, keyId: 'alice', principals: ['alice'], validAfter: now - 60n, validBefore, extensions: ['permit-pty'] },
    ca,
  );
  return issued.line;
}

beforeAll(async () => {
  server = http.createServer((request, response) => {
    request.resume();
    request.on('end', () => {
      response.writeHead(status, { 'content-type': 'application/json' });
      response.end(JSON.stringify(reply));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});
beforeEach(() => {
  status = 201;
});

function ask(): Promise<unknown> {
  return requestSshCertificate(base, 'token', { publicKey: formatAuthorizedKeysLine(engineerKey, 'me@laptop'), reason: 'INC-1' });
}

describe('requestSshCertificate and server text bound for the terminal', () => {
  it('escapes control characters in a refusal message and ignores a code that is not an ERR_ code', async () => {
    status = 403;
    reply = { code: 'ERR_\u001b]0;x\u0007', message: 'denied\u001b[2J\u009b1A' };
    await expect(ask()).rejects.toMatchObject({ code: ErrorCodes.SERVER_REFUSED, message: 'denied\\u001b[2J\\u009b1A' });
    reply = { code: ErrorCodes.POLICY_DENIED, message: 'no role' };
    await expect(ask()).rejects.toMatchObject({ code: ErrorCodes.POLICY_DENIED, message: 'no role' });
  });

  it('refuses a pending reply whose request id is not a plain token (it becomes part of the polling URL)', async () => {
    status = 202;
    reply = { requestId: '../../v1/ssh/certificates?x=', status: 'pending', required: 1 };
    const progress: string[] = [];
    await expect(
      requestSshCertificate(base, 'token', { publicKey: formatAuthorizedKeysLine(engineerKey), reason: 'INC-1' }, { progress: (line) => progress.push(line), maxWaitMs: 0 }),
    ).rejects.toMatchObject({ code: ErrorCodes.SERVER_REFUSED });
    expect(progress).toEqual([]);
  });
});

describe('requestSshCertificate checks what the server hands back before ssh-cert writes it', () => {
  it('returns a certificate for the sent key, with validity and serial read from the certificate, not the JSON', async () => {
    const line = await certificateFor(engineerKey);
    // The JSON lies about the lifetime (ssh-add -t is set from it) and adds a comment with a newline.
    reply = { requestId: 'r1', certificate: `${line} x\nssh-ed25519 AAAA evil`, serial: '1', validBefore: '2999-01-01T00:00:00Z' };
    await expect(ask()).rejects.toMatchObject({ code: ErrorCodes.CERTIFICATE_INVALID });
    reply = { requestId: 'r1', certificate: `${line} $(touch /tmp/x)`, serial: '1', validBefore: '2999-01-01T00:00:00Z' };
    const received = await ask();
    expect(received).toEqual({ requestId: 'r1', certificate: line.split(' ').slice(0, 2).join(' '), serial: '42', validBefore: new Date(Number(now + 600n) * 1000), notes: [] });
  });

  it('refuses a certificate for a different public key than the one sent', async () => {
    reply = { requestId: 'r2', certificate: await certificateFor(otherKey), serial: '42', validBefore: new Date().toISOString() };
    await expect(ask()).rejects.toMatchObject({ code: ErrorCodes.CERTIFICATE_INVALID });
  });

  it('refuses a 201 without a certificate, or with one that is not an OpenSSH certificate', async () => {
    reply = { requestId: 'r3', serial: '42', validBefore: new Date().toISOString() };
    await expect(ask()).rejects.toMatchObject({ code: ErrorCodes.CERTIFICATE_INVALID });
    reply = { requestId: 'r3', certificate: formatAuthorizedKeysLine(engineerKey), serial: '42', validBefore: new Date().toISOString() };
    await expect(ask()).rejects.toMatchObject({ code: ErrorCodes.CERTIFICATE_INVALID });
  });

  it('refuses a certificate whose signature does not verify under its CA key', async () => {
    const [type, base64] = (await certificateFor(engineerKey)).split(' ') as [string, string];
    const blob = Buffer.from(base64, 'base64');
    blob[blob.length - 1]! ^= 1;
    reply = { requestId: 'r4', certificate: `${type} ${blob.toString('base64')}`, serial: '42', validBefore: new Date().toISOString() };
    await expect(ask()).rejects.toMatchObject({ code: ErrorCodes.CERTIFICATE_INVALID });
  });
});

describe('the waiting line while a request waits for approval', () => {
  it('is reported once, and again only when it changes, not at every poll', async () => {
    const line = await certificateFor(engineerKey);
    // Well inside the minute the line shows, so the run's own seconds do not change it.
    const expiresAt = new Date(Date.now() + 90 * 60_000 + 30_000).toISOString();
    let polls = 0;
    const pending = http.createServer((request, response) => {
      request.resume();
      request.on('end', () => {
        const reply = (statusCode: number, body: Record<string, unknown>) => response.writeHead(statusCode, { 'content-type': 'application/json' }).end(JSON.stringify(body));
        if (request.method === 'POST') return reply(202, { requestId: 'req1', status: 'pending', required: 1, approverGroups: ['sre-leads'] });
        // The read of the request once the wait is over (who decided) is not a poll of the wait.
        if (request.url === '/v1/requests/req1') return reply(404, { code: 'ERR_REQUEST_NOT_FOUND', message: 'not here' });
        polls++;
        if (polls <= 4) return reply(202, { requestId: 'req1', approvals: [], expiresAt });
        if (polls <= 6) return reply(202, { requestId: 'req1', approvals: [{ approver: 'carol' }], expiresAt });
        return reply(200, { requestId: 'req1', certificate: line });
      });
    });
    await new Promise<void>((resolve) => pending.listen(0, '127.0.0.1', resolve));
    try {
      const progress: string[] = [];
      const url = `http://127.0.0.1:${(pending.address() as AddressInfo).port}`;
      await requestSshCertificate(url, 'token', { publicKey: formatAuthorizedKeysLine(engineerKey), reason: 'INC-1' }, { progress: (text) => progress.push(text), pollIntervalMs: 1 });
      expect(polls).toBe(7);
      expect(progress).toEqual([
        'request req1 needs approval (1 approval(s) from sre-leads); waiting…',
        'request req1: 0 approval(s) so far; expires in 1h 30m',
        'request req1: 1 approval(s) so far; expires in 1h 30m',
      ]);
    } finally {
      await new Promise((resolve) => pending.close(resolve));
    }
  });
});

describe('a wait that outlives its token', () => {
  it('asks for the token again before every poll, so each request carries the one in force then', async () => {
    const line = await certificateFor(engineerKey);
    const seen: string[] = [];
    let polls = 0;
    const pending = http.createServer((request, response) => {
      seen.push(String(request.headers.authorization));
      request.resume();
      request.on('end', () => {
        const reply = (statusCode: number, body: Record<string, unknown>) => response.writeHead(statusCode, { 'content-type': 'application/json' }).end(JSON.stringify(body));
        if (request.method === 'POST') return reply(202, { requestId: 'req1', status: 'pending', required: 1, approverGroups: ['sre-leads'] });
        if (request.url === '/v1/requests/req1') return reply(404, { code: 'ERR_REQUEST_NOT_FOUND', message: 'not here' });
        polls++;
        return polls < 3 ? reply(202, { requestId: 'req1', approvals: [], expiresAt: '2030-01-01T00:00:00Z' }) : reply(200, { requestId: 'req1', certificate: line });
      });
    });
    await new Promise<void>((resolve) => pending.listen(0, '127.0.0.1', resolve));
    try {
      let issued = 0;
      const url = `http://127.0.0.1:${(pending.address() as AddressInfo).port}`;
      await requestSshCertificate(url, async () => `token-${++issued}`, { publicKey: formatAuthorizedKeysLine(engineerKey), reason: 'INC-1' }, { pollIntervalMs: 1 });
      // The request, three polls, and the read of who decided: each with the token asked for then.
      expect(seen).toEqual(['Bearer token-1', 'Bearer token-2', 'Bearer token-3', 'Bearer token-4', 'Bearer token-5']);
    } finally {
      await new Promise((resolve) => pending.close(resolve));
    }
  });
});

describe('the time left before a request expires', () => {
  it('in hours and minutes, minutes, then seconds; never negative; unknown without a date', () => {
    const now = Date.parse('2026-12-05T10:00:00Z');
    const at = (seconds: number) => new Date(now + seconds * 1000).toISOString();
    expect([7500, 3600, 3599, 60, 59, 0, -30].map((seconds) => timeLeft(at(seconds), now))).toEqual([
      'expires in 2h 05m',
      'expires in 1h 00m',
      'expires in 59m',
      'expires in 1m',
      'expires in 59s',
      'expires in 0s',
      'expires in 0s',
    ]);
    expect(timeLeft(undefined, now)).toBe('expiry unknown');
    expect(timeLeft('soon', now)).toBe('expiry unknown');
  });
});
