import { X509Certificate, createPrivateKey } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClientConfig } from '../../src/client/client-config.ts';
import { obtainKubeCredential } from '../../src/client/kube-credential.ts';
import { fixedClock } from '../../src/clock.ts';
import { ErrorCodes, isJitcaError } from '../../src/errors.ts';
import { createApiFixture, type ApiFixture } from '../support/api-fixture.ts';
import { testPolicy } from '../support/ca-fixture.ts';

/** The real API (SoftHSM2-backed Kubernetes client CA, real OIDC tokens) on loopback. */
let api: ApiFixture;
let server: string;
let home: string;

beforeAll(async () => {
  // alice's role covers two clusters here, so one engineer can hold a certificate for each; dave
  // (sre) holds it too, so two people can take turns on one account.
  const policy = {
    ...testPolicy,
    roles: testPolicy.roles.map((role) =>
      role.name === 'oncall-payments' ? { ...role, groups: [...role.groups, 'sre'], scope: { ...role.scope, clusters: ['prod', 'staging'] } } : role,
    ),
  };
  api = await createApiFixture({ policy });
  server = await api.app.listen({ host: '127.0.0.1', port: 0 });
  home = mkdtempSync(path.join(tmpdir(), 'jitca-kube-credential-'));
});
afterAll(async () => {
  await api?.close();
  rmSync(home, { recursive: true, force: true });
});

/** An engineer whose token comes from a token command, as in CI or with an external login tool. */
function engineer(name: keyof ApiFixture['tokens'] | 'nobody', token?: string): ClientConfig {
  const dir = path.join(home, name);
  mkdirSync(dir, { recursive: true });
  const tokenFile = path.join(dir, 'token');
  writeFileSync(tokenFile, token ?? (name === 'nobody' ? '' : api.tokens[name]), { mode: 0o600 });
  return { server, tokenCommand: ['cat', tokenFile], tokenCache: path.join(dir, 'cache', 'token.json') };
}

async function codeOf(run: () => Promise<unknown>): Promise<string | undefined> {
  try {
    await run();
  } catch (error) {
    return isJitcaError(error) ? error.code : `not a JitcaError: ${String(error)}`;
  }
  return undefined;
}

describe('obtainKubeCredential against the jitca API', () => {
  it('issues a certificate named after the identity, caches it, reuses it, and renews it near expiry', async () => {
    const alice = engineer('alice');
    const clock = fixedClock(Date.now());
    const first = await obtainKubeCredential(alice, { cluster: 'prod', ttl: '10m', clock });
    // The server signs with its own (real) clock, somewhere between `clock` and now.
    const issuedBy = Date.now();
    expect(first.source).toBe('issued');
    const certificate = new X509Certificate(first.credential.certificatePem);
    expect(certificate.subject).toBe('O=jit:oncall:payments\nCN=alice');
    expect(certificate.checkIssued(new X509Certificate(api.ca.runtime.kubeCa.certificatePem))).toBe(true);
    expect(certificate.checkPrivateKey(createPrivateKey(first.credential.privateKeyPem))).toBe(true);
    expect(first.credential.notAfter.getTime() - clock.now()).toBeGreaterThan(9 * 60_000);
    expect(first.credential.notAfter.getTime() - issuedBy).toBeLessThanOrEqual(10 * 60_000);
    expect(first.cacheFile).toBe(path.join(home, 'alice', 'cache', 'kube', 'prod.json'));
    expect(statSync(first.cacheFile).mode & 0o777).toBe(0o600);

    const issuedRows = api.rowCounts().certificates;
    const again = await obtainKubeCredential(alice, { cluster: 'prod', ttl: '10m', clock });
    expect(again.source).toBe('cache');
    expect(again.credential).toEqual(first.credential);
    expect(api.rowCounts().certificates).toBe(issuedRows);

    // 10% of an 11 m lifetime (10 m + 60 s backdating) is 66 s: one second before that point it is reused...
    const lifetime = first.credential.notAfter.getTime() - first.credential.notBefore.getTime();
    const refreshAt = first.credential.notAfter.getTime() - Math.max(60_000, lifetime / 10);
    clock.advance(refreshAt - 1000 - clock.now());
    expect((await obtainKubeCredential(alice, { cluster: 'prod', ttl: '10m', clock })).source).toBe('cache');
    // ...and from just past it a new key and certificate replace it.
    clock.advance(2000);
    const renewed = await obtainKubeCredential(alice, { cluster: 'prod', ttl: '10m', clock });
    expect(renewed.source).toBe('issued');
    expect(renewed.credential.serial).not.toBe(first.credential.serial);
    expect(renewed.credential.privateKeyPem).not.toBe(first.credential.privateKeyPem);
    expect(api.rowCounts().certificates).toBe(issuedRows + 1);
    expect(JSON.parse(readFileSync(renewed.cacheFile, 'utf8'))).toMatchObject({ serial: renewed.credential.serial, cluster: 'prod', server });
  });

  it('keeps one cache per cluster', async () => {
    const alice = engineer('alice');
    const prod = await obtainKubeCredential(alice, { cluster: 'prod' });
    const staging = await obtainKubeCredential(alice, { cluster: 'staging' });
    expect(staging.cacheFile).not.toBe(prod.cacheFile);
    expect(staging.credential.serial).not.toBe(prod.credential.serial);
    // A cluster the role does not cover is refused, not issued without a scope.
    expect(await codeOf(() => obtainKubeCredential(alice, { cluster: 'dev' }))).toBe(ErrorCodes.POLICY_DENIED);
  });

  it('never hands the previous identity’s certificate to the next one on the same account', async () => {
    // One account, one cache: client.json's token command switched from alice's token to dave's.
    const dir = path.join(home, 'shared');
    mkdirSync(dir, { recursive: true });
    const tokenFile = path.join(dir, 'token');
    const shared: ClientConfig = { server, tokenCommand: ['cat', tokenFile], tokenCache: path.join(dir, 'cache', 'token.json') };
    const as = async (name: 'alice' | 'dave') => {
      writeFileSync(tokenFile, api.tokens[name], { mode: 0o600 });
      const obtained = await obtainKubeCredential(shared, { cluster: 'prod' });
      return { ...obtained, subject: new X509Certificate(obtained.credential.certificatePem).subject };
    };
    const alice = await as('alice');
    expect(alice).toMatchObject({ source: 'issued', subject: 'O=jit:oncall:payments\nCN=alice' });
    expect((await as('alice')).source).toBe('cache');

    const dave = await as('dave');
    expect(dave).toMatchObject({ source: 'issued', subject: 'O=jit:oncall:payments\nCN=dave' });
    expect(dave.credential.serial).not.toBe(alice.credential.serial);
    expect(dave.cacheFile).toBe(alice.cacheFile);
    expect((await as('dave')).source).toBe('cache');

    const aliceAgain = await as('alice');
    expect(aliceAgain).toMatchObject({ source: 'issued', subject: 'O=jit:oncall:payments\nCN=alice' });
  });

  it('refuses, and caches nothing, a certificate whose CN is not the subject the token names', async () => {
    // client.json names a claim the server does not take the user from.
    const misread = { ...engineer('alice'), tokenCache: path.join(home, 'misread', 'cache', 'token.json'), subjectClaim: 'iss' };
    expect(await codeOf(() => obtainKubeCredential(misread, { cluster: 'prod' }))).toBe(ErrorCodes.CERTIFICATE_INVALID);
    expect(existsSync(path.join(home, 'misread', 'cache', 'kube'))).toBe(false);
  });

  it("carries the server's refusal code and caches nothing", async () => {
    const mallory = engineer('mallory');
    const before = api.rowCounts().certificates;
    expect(await codeOf(() => obtainKubeCredential(mallory, { cluster: 'prod' }))).toBe(ErrorCodes.POLICY_DENIED);
    expect(existsSync(path.join(home, 'mallory', 'cache'))).toBe(false);
    expect(api.rowCounts().certificates).toBe(before);
  });

  it('refuses a rejected token with the authentication code', async () => {
    const forged = engineer('bob', `${api.tokens.bob.slice(0, -4)}AAAA`);
    expect(await codeOf(() => obtainKubeCredential(forged, { cluster: 'prod' }))).toBe(ErrorCodes.AUTHN_SIGNATURE);
    expect(existsSync(path.join(home, 'bob', 'cache'))).toBe(false);
  });

  it('needs a token before it asks, and checks ttl and cluster before anything else', async () => {
    const before = api.rowCounts();
    expect(await codeOf(() => obtainKubeCredential(engineer('nobody'), { cluster: 'prod' }))).toBe(ErrorCodes.LOGIN_REQUIRED);
    expect(await codeOf(() => obtainKubeCredential(engineer('carol'), { cluster: 'prod', ttl: '30 minutes' }))).toBe(ErrorCodes.TTL_INVALID);
    expect(await codeOf(() => obtainKubeCredential(engineer('carol'), { cluster: '../prod' }))).toBe(ErrorCodes.REQUEST_INVALID);
    expect(api.rowCounts()).toEqual(before);
    expect(existsSync(path.join(home, 'nobody', 'cache'))).toBe(false);
    expect(existsSync(path.join(home, 'carol', 'cache'))).toBe(false);
  });

  it('reports an unreachable server as retryable ERR_SERVER_UNREACHABLE', async () => {
    const offline = { ...engineer('dave'), server: 'http://127.0.0.1:1' };
    expect(await codeOf(() => obtainKubeCredential(offline, { cluster: 'prod' }))).toBe(ErrorCodes.SERVER_UNREACHABLE);
  });
});
