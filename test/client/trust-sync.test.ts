import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/api/app.ts';
import { createApiAuthenticator } from '../../src/api/request-authenticator.ts';
import { syncTrustFiles, type TrustSyncTarget } from '../../src/client/trust-sync.ts';
import { ErrorCodes, isJitcaError, type ErrorCode } from '../../src/errors.ts';
import { issueSshCertificate } from '../../src/issuance/issue-ssh-certificate.ts';
import { revokeSshCertificate } from '../../src/issuance/revoke-ssh-certificate.ts';
import { sshTrustBundle } from '../../src/issuance/trust-bundle.ts';
import { decodeKrl } from '../../src/ssh/krl.ts';
import { createCaFixture, type CaFixture } from '../support/ca-fixture.ts';
import { createTempSshKey, type TempSshKey } from '../support/ssh-key.ts';

const jitca = path.resolve(import.meta.dirname, '../../bin/jitca');

describe('jitca trust-sync: a host keeping TrustedUserCAKeys and RevokedKeys in step with the CA', () => {
  let ca: CaFixture;
  let app: FastifyInstance;
  let server: string;
  let dir: string;
  let key: TempSshKey;
  let targets: TrustSyncTarget[];

  beforeAll(async () => {
    ca = await createCaFixture();
    key = createTempSshKey('jitca-trust-sync-key-');
    app = buildApp(ca.runtime, { authenticator: createApiAuthenticator(undefined, undefined), logger: false });
    server = await app.listen({ host: '127.0.0.1', port: 0 });
    dir = mkdtempSync(path.join(tmpdir(), 'jitca-trust-sync-'));
    targets = [
      { kind: 'ssh-user-ca', file: path.join(dir, 'trusted_user_ca_keys') },
      { kind: 'ssh-krl', file: path.join(dir, 'revoked.krl') },
    ];
  });
  afterAll(async () => {
    await app?.close();
    key?.cleanup();
    await ca?.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  function run(args: string[]): Promise<{ status: number | null; stderr: string }> {
    return new Promise((resolve) => {
      execFile(jitca, args, { encoding: 'utf8' }, (error, _stdout, stderr) => resolve({ status: error === null ? 0 : (error.code as number | null), stderr }));
    });
  }
  const contents = () => targets.map((target) => readFileSync(target.file));
  async function errorOf(promise: Promise<unknown>): Promise<unknown> {
    return promise.then(() => undefined, (error: unknown) => error);
  }

  /** A stand-in for a broken or hostile server: answers every path with what `reply` says. */
  async function fakeServer(reply: (url: string) => { status: number; body: Buffer | string }): Promise<{ url: string; server: Server }> {
    const fake = createServer((request, response) => {
      const { status, body } = reply(request.url ?? '');
      response.writeHead(status).end(body);
    });
    await new Promise<void>((resolve) => fake.listen(0, '127.0.0.1', resolve));
    return { url: `http://127.0.0.1:${(fake.address() as AddressInfo).port}`, server: fake };
  }

  it('writes both files on first run, rewrites nothing when nothing changed, and the KRL after a revocation', async () => {
    expect(await syncTrustFiles({ server, targets })).toMatchObject([{ outcome: 'updated' }, { outcome: 'updated' }]);
    expect(readFileSync(targets[0]!.file, 'utf8')).toBe(sshTrustBundle(ca.runtime));
    expect(decodeKrl(readFileSync(targets[1]!.file)).certificates).toEqual([]);
    const inodes = targets.map((target) => statSync(target.file).ino);

    expect(await syncTrustFiles({ server, targets })).toMatchObject([{ outcome: 'unchanged' }, { outcome: 'unchanged' }]);
    expect(targets.map((target) => statSync(target.file).ino)).toEqual(inodes);

    const issued = await issueSshCertificate(
      ca.runtime.sshIssuance,
      { subject: 'alice', groups: ['oncall-payments'], via: 'local-cli' },
      { publicKey: key.publicKey, role: 'oncall-payments', ttlSeconds: 600 },
    );
    if (issued.status !== 'issued') throw new Error('expected issued');
    await revokeSshCertificate(ca.runtime.store, { subject: 'secteam', groups: [], via: 'local-cli' }, issued.serial, 'test');
    // Revoked past the API (as `jitca revoke` does): serve's KRL poll is what notices; run it now.
    expect(await ca.runtime.sshKrl.refresh()).toBe(true);
    expect(await syncTrustFiles({ server, targets })).toMatchObject([{ outcome: 'unchanged' }, { outcome: 'updated' }]);
    const certificate = path.join(dir, 'alice-cert.pub');
    writeFileSync(certificate, `${issued.certificate}\n`);
    expect(spawnSync('ssh-keygen', ['-Q', '-f', targets[1]!.file, certificate], { encoding: 'utf8' }).stdout).toMatch(/REVOKED/);
  });

  it('keeps both files as they are when the server is unreachable, answers an error, or sends something else', async () => {
    await syncTrustFiles({ server, targets });
    const before = contents();

    const closed = await fakeServer(() => ({ status: 200, body: '' }));
    await new Promise((resolve) => closed.server.close(resolve));
    const unreachable = await errorOf(syncTrustFiles({ server: closed.url, targets }));
    expect(isJitcaError(unreachable, ErrorCodes.SERVER_UNREACHABLE)).toBe(true);

    const bundle = (await app.inject({ method: 'GET', url: '/v1/trust/bundle.json' })).body;
    const replies: Array<[string, (url: string) => { status: number; body: Buffer | string }, ErrorCode]> = [
      ['a 503', () => ({ status: 503, body: '{"code":"ERR_STORE_UNAVAILABLE"}' }), ErrorCodes.SERVER_REFUSED],
      ['a KRL that is not one (the CA bundle is fine)', (url) => ({ status: 200, body: url.endsWith('ssh-krl') ? 'SSHKRL\n\0garbage' : bundle }), ErrorCodes.SERVER_REFUSED],
      ['an empty CA bundle', (url) => ({ status: 200, body: url.endsWith('ssh-krl') ? readFileSync(targets[1]!.file) : '\n' }), ErrorCodes.TRUST_BUNDLE_UNTRUSTED],
      ['an HTML error page as the CA bundle', (url) => ({ status: 200, body: url.endsWith('ssh-krl') ? readFileSync(targets[1]!.file) : '<html>proxy error</html>' }), ErrorCodes.TRUST_BUNDLE_UNTRUSTED],
      ['the bundle with its signature cut off', (url) => ({ status: 200, body: url.endsWith('ssh-krl') ? readFileSync(targets[1]!.file) : `${bundle.slice(0, bundle.lastIndexOf('.'))}.` }), ErrorCodes.TRUST_BUNDLE_UNTRUSTED],
    ];
    for (const [what, reply, code] of replies) {
      const fake = await fakeServer(reply);
      try {
        const error = await errorOf(syncTrustFiles({ server: fake.url, targets }));
        expect(isJitcaError(error, code), what).toBe(true);
      } finally {
        await new Promise((resolve) => fake.server.close(resolve));
      }
      expect(contents(), what).toEqual(before);
    }
  });

  it('runs as `jitca trust-sync`, saying what it did', async () => {
    // Not spawnSync: the API it talks to runs in this process and must keep answering.
    const result = await run(['trust-sync', '--server', server, '--ca-file', targets[0]!.file, '--krl-file', targets[1]!.file]);
    expect(result.status).toBe(0);
    expect(result.stderr).toBe(`${targets[0]!.file}: unchanged\n${targets[1]!.file}: unchanged\n`);
    const nothing = await run(['trust-sync', '--server', server]);
    expect(nothing.status).toBe(2);
    expect(nothing.stderr).toMatch(/^jitca: ERR_REQUEST_INVALID: name at least one of --ca-file and --krl-file/);
    expect(execFileSync(jitca, ['trust-sync', '--help'], { encoding: 'utf8' })).toMatch(/RevokedKeys/);
  });

  it('refuses a file in a missing directory by name, before fetching, instead of a raw ENOENT naming a temporary file', async () => {
    const missing = path.join(dir, 'missing', 'dir', 'ca.pub');
    const error = await errorOf(syncTrustFiles({ server, targets: [targets[1]!, { kind: 'ssh-user-ca', file: missing }] }));
    expect(isJitcaError(error, ErrorCodes.REQUEST_INVALID)).toBe(true);
    expect((error as Error).message).toBe(`cannot write ${missing}: its directory ${path.dirname(missing)} does not exist; nothing was fetched or changed`);
    const result = await run(['trust-sync', '--server', server, '--ca-file', missing]);
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/^jitca: ERR_REQUEST_INVALID: cannot write .*missing\/dir\/ca\.pub: its directory .* does not exist/);
    expect(result.stderr).not.toMatch(/\.tmp|ENOENT/);
  });
});
