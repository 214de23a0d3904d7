/**
 * The KRL jitca publishes (issuance/ssh-krl.ts), built from the store: which revocations it lists,
 * and until when.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueSshCertificate } from '../../src/issuance/issue-ssh-certificate.ts';
import { revokeSshCertificate } from '../../src/issuance/revoke-ssh-certificate.ts';
import { buildSshKrl } from '../../src/issuance/ssh-krl.ts';
import type { Identity } from '../../src/policy/types.ts';
import { decodeKrl } from '../../src/ssh/krl.ts';
import { createCaFixture, type CaFixture } from '../support/ca-fixture.ts';
import { createTempSshKey, type TempSshKey } from '../support/ssh-key.ts';

const alice: Identity = { subject: 'alice', groups: ['oncall-payments'], via: 'local-cli' };

let ca: CaFixture;
let key: TempSshKey;

beforeAll(async () => {
  ca = await createCaFixture();
  key = createTempSshKey('jitca-krl-build-');
});

afterAll(async () => {
  key?.cleanup();
  await ca?.cleanup();
});

async function listedSerials(atMs: number, skewSeconds: number): Promise<bigint[]> {
  const krl = decodeKrl(await buildSshKrl(ca.runtime.store, ca.runtime.keyring.trusted('ssh-user').map((generation) => generation.signer), atMs, skewSeconds));
  return krl.certificates.flatMap((section) => section.serials);
}

describe('buildSshKrl', () => {
  it('keeps a revoked certificate listed until it has expired on a host whose clock is as far behind as the CA allows', async () => {
    const issued = await issueSshCertificate(ca.runtime.sshIssuance, alice, { publicKey: key.publicKey, role: 'oncall-payments', ttlSeconds: 600 });
    if (issued.status !== 'issued') throw new Error(`expected issued, got ${issued.status}`);
    const kept = await issueSshCertificate(ca.runtime.sshIssuance, alice, { publicKey: key.publicKey, role: 'oncall-payments', ttlSeconds: 600 });
    if (kept.status !== 'issued') throw new Error(`expected issued, got ${kept.status}`);
    await revokeSshCertificate(ca.runtime.store, { subject: 'secteam', groups: [], via: 'local-cli' }, issued.serial, 'key leaked');
    const serial = BigInt(issued.serial);
    const expiry = issued.validBefore.getTime();

    expect(await listedSerials(expiry - 1000, 60)).toEqual([serial]);
    // Expired by the CA's clock, not yet by a host running 60 s behind it: still revoked there.
    expect(await listedSerials(expiry, 60)).toEqual([serial]);
    expect(await listedSerials(expiry + 59_000, 60)).toEqual([serial]);
    // Expired everywhere the CA's skew allowance reaches: nothing left to revoke.
    expect(await listedSerials(expiry + 60_000, 60)).toEqual([]);
    // Without a skew allowance, exactly at valid_before (sshd: expired when now >= valid_before).
    expect(await listedSerials(expiry - 1000, 0)).toEqual([serial]);
    expect(await listedSerials(expiry, 0)).toEqual([]);
  });
});
