import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixedClock } from '../../src/clock.ts';
import { issueSshCertificate, type SshIssuanceInput } from '../../src/issuance/issue-ssh-certificate.ts';
import type { Identity } from '../../src/policy/types.ts';
import { createCaFixture, type CaFixture } from '../support/ca-fixture.ts';
import { startSshdTrusting, type SshdHandle } from '../support/sshd.ts';

const root = path.resolve(import.meta.dirname, '../..');

describe('a real sshd trusting the jitca bundle', () => {
  let ca: CaFixture;
  let sshd: SshdHandle;
  let key: string;

  beforeAll(async () => {
    ca = await createCaFixture();
    // The trust bundle comes from the real CLI, exactly as an operator would install it.
    const bundle = execFileSync(path.join(root, 'bin/jitca'), ['--data-dir', ca.dataDir, 'bundle', '--format', 'sshd'], {
      encoding: 'utf8',
    });
    expect(bundle).toMatch(/^ssh-ed25519 AAAA\S+ jitca:ssh-user-ca\/1\n$/);
    ({ sshd, key } = await startSshdTrusting(bundle));
  });

  afterAll(async () => {
    await sshd?.stop();
    await ca?.cleanup();
  });

  async function issue(groups: string[], request: Omit<SshIssuanceInput, 'publicKey'>, clockMs?: number): Promise<string> {
    const identity: Identity = { subject: 'alice', groups, via: 'local-cli' };
    const context = clockMs === undefined ? ca.runtime.sshIssuance : { ...ca.runtime.sshIssuance, clock: fixedClock(clockMs) };
    const result = await issueSshCertificate(context, identity, { publicKey: readFileSync(`${key}.pub`, 'utf8'), ...request });
    if (result.status !== 'issued') throw new Error(`expected issued, got ${result.status}`);
    const certificate = path.join(sshd.dir, `cert-${result.serial}.pub`);
    writeFileSync(certificate, `${result.certificate}\n`);
    return certificate;
  }

  it('accepts a login with an issued certificate', async () => {
    const certificate = await issue(['oncall-payments'], { role: 'oncall-payments', ttlSeconds: 300 });
    const result = sshd.login({ key, certificate });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(result.stdout.trim()).toBe('jitca-login-ok');
  });

  it('refuses an expired certificate', async () => {
    // Issued two hours ago for five minutes: valid_before lies in the past.
    const certificate = await issue(['oncall-payments'], { role: 'oncall-payments', ttlSeconds: 300 }, Date.now() - 2 * 3600_000);
    const result = sshd.login({ key, certificate });
    expect(result.status).toBe(255);
    expect(result.stderr).toMatch(/Permission denied/);
  });

  it('refuses a certificate whose principals the account does not allow', async () => {
    const certificate = await issue(['oncall-payments'], { role: 'oncall-payments', principals: ['payments-readonly'] });
    const result = sshd.login({ key, certificate });
    expect(result.status).toBe(255);
    expect(result.stderr).toMatch(/Permission denied/);
  });

  it('refuses a certificate signed by another CA', async () => {
    const otherCa = path.join(sshd.dir, 'other_ca');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', otherCa]);
    const copy = path.join(sshd.dir, 'other_user');
    execFileSync('cp', [key, copy]);
    execFileSync('cp', [`${key}.pub`, `${copy}.pub`]);
    execFileSync('ssh-keygen', ['-q', '-s', otherCa, '-I', 'mallory', '-n', 'oncall-payments', '-V', '-1m:+5m', `${copy}.pub`]);
    const result = sshd.login({ key: copy, certificate: `${copy}-cert.pub` });
    expect(result.status).toBe(255);
    expect(result.stderr).toMatch(/Permission denied/);
  });

  it('refuses a login from outside the source-address critical option', async () => {
    const certificate = await issue(['remote-only'], { role: 'remote-only' });
    const result = sshd.login({ key, certificate });
    expect(result.status).toBe(255);
    expect(result.stderr).toMatch(/Permission denied/);
  });

  it('source-address as encoded is what sshd enforces: the loopback range logs in, another range does not', async () => {
    // Same role, same key: only the requested (narrowing) source-address differs.
    const loopback = await issue(['oncall-payments'], { role: 'oncall-payments', sourceAddresses: ['127.0.0.1/32', '10.0.0.0/8'] });
    const accepted = sshd.login({ key, certificate: loopback });
    expect(accepted.stderr).toBe('');
    expect(accepted.status).toBe(0);
    expect(accepted.stdout.trim()).toBe('jitca-login-ok');
    const elsewhere = await issue(['oncall-payments'], { role: 'oncall-payments', sourceAddresses: ['10.0.0.0/8'] });
    const refused = sshd.login({ key, certificate: elsewhere });
    expect(refused.status).toBe(255);
    expect(refused.stderr).toMatch(/Permission denied/);
  });

  it('runs the force-command instead of the requested command', async () => {
    const certificate = await issue(['forced'], { role: 'forced' });
    const result = sshd.login({ key, certificate, command: 'echo something-else' });
    expect(result.status).toBe(0);
    expect(result.stdout.trim()).toBe('forced-command-ran');
  });
});
