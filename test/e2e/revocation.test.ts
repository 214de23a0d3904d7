/**
 * Revocation end to end: the security team's `jitca revoke`, the KRL from `jitca bundle --format
 * krl` installed as a real sshd's RevokedKeys, and the same KRL over HTTP.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/api/app.ts';
import { createApiAuthenticator } from '../../src/api/request-authenticator.ts';
import { issueSshCertificate } from '../../src/issuance/issue-ssh-certificate.ts';
import { createCaFixture, type CaFixture } from '../support/ca-fixture.ts';
import { startSshdTrusting, type SshdHandle } from '../support/sshd.ts';

const root = path.resolve(import.meta.dirname, '../..');

describe('revoking an SSH certificate before it expires', () => {
  let ca: CaFixture;
  let sshd: SshdHandle;
  let key: string;
  const jitca = (...args: string[]) => spawnSync(path.join(root, 'bin/jitca'), ['--data-dir', ca.dataDir, ...args], { encoding: 'utf8' });

  beforeAll(async () => {
    ca = await createCaFixture();
    ({ sshd, key } = await startSshdTrusting(jitca('bundle', '--format', 'sshd').stdout));
  });

  afterAll(async () => {
    await sshd?.stop();
    await ca?.cleanup();
  });

  async function issue(): Promise<{ serial: string; file: string }> {
    const result = await issueSshCertificate(
      ca.runtime.sshIssuance,
      { subject: 'alice', groups: ['oncall-payments'], via: 'local-cli' },
      { publicKey: readFileSync(`${key}.pub`, 'utf8'), role: 'oncall-payments', ttlSeconds: 600 },
    );
    if (result.status !== 'issued') throw new Error(`expected issued, got ${result.status}`);
    const file = path.join(sshd.dir, `cert-${result.serial}.pub`);
    writeFileSync(file, `${result.certificate}\n`);
    return { serial: result.serial, file };
  }

  it('sshd refuses a revoked certificate once the KRL is installed, and still accepts the others', async () => {
    const lost = await issue();
    const kept = await issue();
    expect(sshd.login({ key, certificate: lost.file }).status).toBe(0);

    const revoked = jitca('revoke', '--serial', lost.serial, '--reason', 'laptop lost, INC-77', '--actor', 'secteam-bob');
    expect(revoked.stderr).toMatch(new RegExp(`revoked serial ${lost.serial} \\(alice/req_[0-9a-f]+, valid until `));
    expect(revoked.status).toBe(0);
    const published = jitca('bundle', '--format', 'krl', '--out', sshd.revokedKeysFile);
    expect(published.status).toBe(0);

    const refused = sshd.login({ key, certificate: lost.file });
    expect(refused.status).toBe(255);
    expect(refused.stderr).toMatch(/Permission denied/);
    expect(sshd.login({ key, certificate: kept.file }).status).toBe(0);
    // The real ssh-keygen reads the same file the same way.
    expect(spawnSync('ssh-keygen', ['-Q', '-f', sshd.revokedKeysFile, lost.file], { encoding: 'utf8' }).stdout).toMatch(/REVOKED/);

    // Audited, with who and why.
    const events = (await ca.runtime.store.listAudit({ limit: 1000 })).filter((record) => record.type === 'ssh.revoked');
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ actor: 'secteam-bob', subject: 'alice', data: { serial: lost.serial, reason: 'laptop lost, INC-77' } });
  });

  it('refuses, with stable codes and nothing written: an unknown serial, a second revocation, no reason, a KRL to stdout', async () => {
    const { serial } = await issue();
    const auditBefore = (await ca.runtime.store.listAudit({ limit: 1000 })).length;
    const unknown = jitca('revoke', '--serial', '12345', '--reason', 'x');
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toMatch(/^jitca: ERR_CERTIFICATE_NOT_FOUND: /);
    const noReason = jitca('revoke', '--serial', serial, '--reason', ' ');
    expect(noReason.stderr).toMatch(/^jitca: ERR_REQUEST_INVALID: /);
    expect((await ca.runtime.store.listAudit({ limit: 1000 })).length).toBe(auditBefore);

    expect(jitca('revoke', '--serial', serial, '--reason', 'compromised').status).toBe(0);
    const again = jitca('revoke', '--serial', serial, '--reason', 'compromised');
    expect(again.status).toBe(2);
    expect(again.stderr).toMatch(/^jitca: ERR_STORE_CONFLICT: certificate \d+ is already revoked/);
    expect((await ca.runtime.store.listAudit({ limit: 1000 })).length).toBe(auditBefore + 1);

    const toStdout = jitca('bundle', '--format', 'krl');
    expect(toStdout.status).toBe(2);
    expect(toStdout.stderr).toMatch(/^jitca: ERR_REQUEST_INVALID: a KRL is binary/);
  });

  it('GET /v1/trust/ssh-krl serves the same list, with an ETag that holds until the next revocation', async () => {
    // The KRL is public, like the CA keys: no identity provider needed to fetch it.
    const app = buildApp(ca.runtime, { authenticator: createApiAuthenticator(undefined, undefined), logger: false });
    await app.ready();
    try {
      const first = await app.inject({ method: 'GET', url: '/v1/trust/ssh-krl' });
      expect(first.statusCode).toBe(200);
      expect(first.headers['content-type']).toBe('application/octet-stream');
      expect(first.rawPayload.subarray(0, 8).toString('latin1')).toBe('SSHKRL\n\0');
      const etag = String(first.headers['etag']);
      expect((await app.inject({ method: 'GET', url: '/v1/trust/ssh-krl', headers: { 'if-none-match': etag } })).statusCode).toBe(304);

      const { serial, file } = await issue();
      expect(jitca('revoke', '--serial', serial, '--reason', 'rotated out').status).toBe(0);
      // Another process revoked it: serve's poll (KRL_REFRESH_MS) is what notices; run it now.
      expect(await ca.runtime.sshKrl.refresh()).toBe(true);
      const second = await app.inject({ method: 'GET', url: '/v1/trust/ssh-krl', headers: { 'if-none-match': etag } });
      expect(second.statusCode).toBe(200);
      const krlFile = path.join(sshd.dir, 'fetched.krl');
      writeFileSync(krlFile, second.rawPayload);
      expect(spawnSync('ssh-keygen', ['-Q', '-f', krlFile, file], { encoding: 'utf8' }).stdout).toMatch(/REVOKED/);
    } finally {
      await app.close();
    }
  });
});
