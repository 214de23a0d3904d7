import type { CaKeyring } from '../../rotation/ca-keyring.ts';
import type { Signer } from '../keys/signer.ts';
import { encodeKrl } from '../ssh/krl.ts';
import { sshCaKey } from '../ssh/signature.ts';
import type { Store } from '../store/types.ts';

/**
 * The KRL for sshd's RevokedKeys: every revoked SSH user certificate that has not expired yet,
 * one section per CA generation that signed them. Certificates of a CA no longer in `caSigners`
 * are left out: sshd no longer trusts that CA at all. The same revocations give the same bytes:
 * krl_version and generated_date are the time of the newest revocation in the list (0 for none),
 * so hosts polling over HTTP can compare ETags, and a new revocation always raises the version.
 *
 * "Expired" allows for the clock skew the CA already grants hosts (ssh.backdateSeconds: an sshd
 * whose clock runs up to that much behind the CA's). Such a host accepts a certificate for that
 * long after its valid_before by the CA's clock, so a revoked one stays listed until then; dropped
 * at the CA's valid_before, it would be accepted again, unrevoked, for its last seconds there.
 */
export async function buildSshKrl(store: Pick<Store, 'listRevocations'>, caSigners: readonly Signer[], nowMs: number, clockSkewSeconds: number): Promise<Uint8Array> {
  const revoked = await store.listRevocations(new Date(nowMs - clockSkewSeconds * 1000).toISOString());
  const serialsByCa = new Map<string, bigint[]>();
  for (const revocation of revoked) {
    if (revocation.kind !== 'ssh-user') continue;
    const serials = serialsByCa.get(revocation.caKeyId) ?? [];
    serials.push(BigInt(revocation.serial));
    serialsByCa.set(revocation.caKeyId, serials);
  }
  const newest = revoked.reduce((latest, revocation) => Math.max(latest, Date.parse(revocation.revokedAt)), 0);
  const seconds = BigInt(Math.floor(newest / 1000));
  return encodeKrl({
    version: seconds,
    generatedAt: seconds,
    comment: 'jitca',
    certificates: caSigners.map((signer) => ({
      caKeyBlob: sshCaKey(signer.publicKey).blob, // derived once per CA key, as for signing
      serials: serialsByCa.get(signer.keyId) ?? [],
    })),
  });
}

/**
 * The KRL the CA publishes (GET /v1/trust/ssh-krl, `jitca bundle --format krl`): one section per
 * SSH user CA generation the keyring trusts, and the clock-skew allowance from the CA's own
 * configuration, so no publisher can leave it out.
 */
export function sshKrlOf(
  source: { store: Pick<Store, 'listRevocations'>; keyring: Pick<CaKeyring, 'trusted'>; config: { ssh: { backdateSeconds: number } } },
  nowMs: number,
): Promise<Uint8Array> {
  return buildSshKrl(source.store, source.keyring.trusted('ssh-user').map((generation) => generation.signer), nowMs, source.config.ssh.backdateSeconds);
}
