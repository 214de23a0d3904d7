/**
 * The Kubernetes client CA's rotation (issue 19), with `openssl verify -purpose sslclient`
 * against the published PEM (`jitca bundle --format pem`, kube-apiserver's --client-ca-file) at
 * every step: each generation gets its own CA certificate, the PEM lists every trusted one, old
 * certificates verify until their generation retires, new ones come from the new generation.
 * Everything runs on one fake clock: the schedule, the CA certificates, the issued certificates,
 * and openssl's verification time (-attime).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixedClock } from '../../src/clock.ts';
import { kubeCaBundle } from '../../src/issuance/kube-client-ca.ts';
import { issueX509ClientCertificate } from '../../src/issuance/issue-x509-certificate.ts';
import { rotationEngineFor } from '../../rotation/rotation-composition.ts';
import type { RotationEngine } from '../../rotation/rotation-engine.ts';
import { createCaFixture, type CaFixture } from '../support/ca-fixture.ts';
import { opensslCsr } from '../support/kube-openssl.ts';

const DAY = 86_400_000;

describe('Kubernetes client CA rotation, verified by openssl against the published PEM', () => {
  let ca: CaFixture;
  let engine: RotationEngine;
  let clock: ReturnType<typeof fixedClock>;
  let dir: string;

  beforeAll(async () => {
    ca = await createCaFixture();
    dir = mkdtempSync(path.join(tmpdir(), 'jitca-kube-rotation-'));
    const activatedAt = (await ca.runtime.store.listCaGenerations()).find((row) => row.ca === 'kube-client')!.activatedAt!;
    clock = fixedClock(Date.parse(activatedAt));
    engine = rotationEngineFor({ ...ca.runtime, clock }, 'test', { lockWaitMs: 0 });
  });

  afterAll(async () => {
    await ca?.cleanup();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  async function published(): Promise<string> {
    await ca.runtime.keyring.refresh();
    return kubeCaBundle(ca.runtime.config, ca.runtime.keyring);
  }

  async function issue(): Promise<{ pem: string; caPem: string }> {
    const { runtime } = ca;
    const result = await issueX509ClientCertificate(
      {
        policy: runtime.policyInForce.current().policy,
        store: runtime.store,
        activeCa: () => runtime.kubeCa,
        clock,
        signerName: runtime.config.kubernetes.signerName,
        backdateSeconds: runtime.config.ssh.backdateSeconds,
      },
      { subject: 'alice', groups: ['oncall-payments'], via: 'local-cli' },
      { csr: opensslCsr(dir, 'p256', '/CN=alice').pem, ttlSeconds: 900 },
    );
    return { pem: result.certificate, caPem: result.caCertificatePem };
  }

  /** `openssl verify -purpose sslclient -attime <fake now> -CAfile bundle cert`. */
  function verifies(bundle: string, certificate: { pem: string }): boolean {
    writeFileSync(path.join(dir, 'bundle.pem'), bundle);
    writeFileSync(path.join(dir, 'cert.pem'), certificate.pem);
    const at = String(Math.floor(clock.now() / 1000));
    const result = spawnSync('openssl', ['verify', '-purpose', 'sslclient', '-attime', at, '-CAfile', path.join(dir, 'bundle.pem'), path.join(dir, 'cert.pem')], { encoding: 'utf8' });
    return result.status === 0 && result.stdout.includes(': OK');
  }
  const steps = async (): Promise<string[]> => (await engine.apply(['kube-client'])).map(({ step }) => `${step.kind}:${step.generation}`);

  it('keeps old certificates verifying through next and active, and drops them at retirement', async () => {
    const first = await issue();
    expect(verifies(await published(), first)).toBe(true);

    clock.advance(83 * DAY);
    const beforeNext = await issue();
    expect(await steps()).toEqual(['generate:2']);
    let bundle = await published();
    expect(bundle.match(/BEGIN CERTIFICATE/g)).toHaveLength(2);
    expect(verifies(bundle, beforeNext)).toBe(true);

    clock.advance(7 * DAY);
    const lastOfFirst = await issue();
    expect(await steps()).toEqual(['promote:2']);
    bundle = await published();
    const second = await issue();
    expect(second.caPem).not.toBe(first.caPem);
    expect(verifies(bundle, lastOfFirst)).toBe(true);
    expect(verifies(bundle, second)).toBe(true);
    // Signed by generation 2 indeed: generation 1's certificate alone does not verify it.
    expect(verifies(first.caPem, second)).toBe(false);

    // Retirement waits for generation 1's last certificate (900 s) and the skew allowance.
    clock.advance(900_000);
    expect(await steps()).toEqual([]);
    clock.advance(ca.runtime.config.ssh.backdateSeconds * 1000);
    expect(await steps()).toEqual(['retire:1']);
    bundle = await published();
    expect(bundle.match(/BEGIN CERTIFICATE/g)).toHaveLength(1);
    // Checked at a time it was still valid: refused for its issuer alone.
    clock.advance(-10 * 60_000);
    expect(verifies(bundle, lastOfFirst)).toBe(false);
    expect(verifies(bundle, second)).toBe(true);
  });

  it('keeps a retired key in the HSM unless --destroy, which destroys it once and audits it', async () => {
    const keysOf = (): number[] => ca.runtime.keys.list(ca.runtime.config.kubernetes.caName).map((key) => key.generation);
    expect(keysOf()).toEqual([1, 2]);
    await engine.apply(['kube-client']);
    expect(keysOf()).toEqual([1, 2]);
    await engine.apply(['kube-client'], { destroy: true });
    expect(keysOf()).toEqual([2]);
    await engine.apply(['kube-client'], { destroy: true });
    const destroyed = (await ca.runtime.store.listAudit()).filter((record) => record.type === 'ca.rotated' && record.data['step'] === 'destroy');
    expect(destroyed.map((record) => record.data)).toEqual([{ step: 'destroy', ca: 'kube-client', generation: 1, keyId: 'kube-client-ca/1' }]);
    expect((await ca.runtime.store.listCaGenerations()).find((row) => row.ca === 'kube-client' && row.generation === 1)?.state).toBe('retired');
  });
});
