import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requestJson } from '../../src/client/http-json.ts';
import { ErrorCodes, errorClasses, isJitcaError } from '../../src/errors.ts';

const jitca = path.resolve(import.meta.dirname, '../../bin/jitca');
const dir = mkdtempSync(path.join(tmpdir(), 'jitca-server-tls-'));
let tlsServer: https.Server;
let plainServer: http.Server;
let tlsPort: number;
let plainPort: number;

/** A self-signed serving certificate for localhost only, made by the real openssl. */
function selfSigned(name: string, days: string): { key: string; cert: string } {
  const key = path.join(dir, `${name}.key`);
  const cert = path.join(dir, `${name}.pem`);
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', cert, '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost', '-days', days], { stdio: 'ignore' });
  return { key, cert };
}

beforeAll(async () => {
  const serving = selfSigned('serving', '1');
  tlsServer = https.createServer({ key: readFileSync(serving.key), cert: readFileSync(serving.cert) }, (_request, response) => response.end('{"ok":true}'));
  plainServer = http.createServer((_request, response) => response.end('{"ok":true}'));
  await new Promise<void>((resolve) => tlsServer.listen(0, '127.0.0.1', resolve));
  await new Promise<void>((resolve) => plainServer.listen(0, '127.0.0.1', resolve));
  tlsPort = (tlsServer.address() as AddressInfo).port;
  plainPort = (plainServer.address() as AddressInfo).port;
});
afterAll(async () => {
  await new Promise((resolve) => tlsServer?.close(resolve));
  await new Promise((resolve) => plainServer?.close(resolve));
  rmSync(dir, { recursive: true, force: true });
});

async function failure(url: string, ca?: Buffer): Promise<{ code: string; message: string }> {
  try {
    await requestJson(url, { ca, timeoutMs: 10_000 });
  } catch (error) {
    if (isJitcaError(error)) return { code: error.code, message: error.message };
    throw error;
  }
  throw new Error(`${url} answered`);
}

describe('TLS failures say what is wrong and what to do', () => {
  it('an untrusted server certificate is ERR_SERVER_TLS naming caFile, without Node’s --use-system-ca hint', async () => {
    const untrusted = await failure(`https://localhost:${tlsPort}/`);
    expect(untrusted.code).toBe(ErrorCodes.SERVER_TLS);
    expect(untrusted.message).toMatch(/^the TLS certificate of https:\/\/localhost:\d+ is not signed by a CA this helper trusts \(DEPTH_ZERO_SELF_SIGNED_CERT\): set "caFile" in client\.json/);
    expect(untrusted.message).not.toMatch(/use-system-ca/);
    expect(errorClasses[ErrorCodes.SERVER_TLS].retry).toBe('no');
  });

  it('a certificate for another name says so', async () => {
    const wrongName = await failure(`https://127.0.0.1:${tlsPort}/`, readFileSync(path.join(dir, 'serving.pem')));
    expect(wrongName).toMatchObject({ code: ErrorCodes.SERVER_TLS, message: expect.stringMatching(/is not for 127\.0\.0\.1: use a server URL with a name the certificate lists/) });
  });

  it('https:// to a plain-HTTP server says it does not answer TLS, not "wrong version number"', async () => {
    const plain = await failure(`https://127.0.0.1:${plainPort}/`);
    expect(plain.code).toBe(ErrorCodes.SERVER_TLS);
    expect(plain.message).toMatch(/does not answer TLS: it looks like a plain-HTTP server; use http:\/\//);
    expect(plain.message).not.toMatch(/wrong version number/);
  });

  it('trust-sync reports it with the code and exit status 2', async () => {
    const result = await new Promise<{ status: number | null; stderr: string }>((resolve) => {
      execFile(jitca, ['trust-sync', '--server', `https://localhost:${tlsPort}`, '--ca-file', path.join(dir, 'ca.pub')], { encoding: 'utf8' }, (error, _stdout, stderr) =>
        resolve({ status: error === null ? 0 : (error.code as number | null), stderr }),
      );
    });
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/^jitca: ERR_SERVER_TLS: the TLS certificate of https:\/\/localhost:\d+ is not signed by a CA this helper trusts/);
  });
});
