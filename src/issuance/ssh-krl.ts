import { createHash } from 'node:crypto';
import type { CaKeyring } from '../../rotation/ca-keyring.ts';
import type { Signer } from '../keys/signer.ts';
import { encodeKrl } from '../ssh/krl.ts';
import { sshCaKey } from '../ssh/signature.ts';
import type { Store } from '../store/types.ts';

/** A built KRL with what a cache needs to know when it stops being current. */
export interface SshKrlSnapshot {
  bytes: Buffer;
  /** Quoted content hash, as an HTTP ETag. */
  etag: string;
  /** store.revocationsRevision() read before the revocations were: a higher one means rebuild. */
  revision: number;
  /** When the first listed revocation leaves the KRL (its valid_before + the skew allowance); Infinity with none. */
  staleAtMs: number;
}

/**
 * The KRL for sshd's RevokedKeys: every revoked SSH user certificate that has not expired yet,
 * one section per CA generation that signed them. Certificates of a CA no longer in `caSigners`
 * are left out: sshd no longer trusts that CA at all. The same revocations give the same bytes:
 * krl_version and generated_date are the time of the newest revocation in the list (0 for none),
 * so replicas building from one store agree byte for byte, hosts polling over HTTP can compare
 * ETags, and a new revocation always raises the version.
 *
 * "Expired" allows for the clock skew the CA already grants hosts (ssh.backdateSeconds: an sshd
 * whose clock runs up to that much behind the CA's). Such a host accepts a certificate for that
 * long after its valid_before by the CA's clock, so a revoked one stays listed until then; dropped
 * at the CA's valid_before, it would be accepted again, unrevoked, for its last seconds there.
 */
export async function buildSshKrlSnapshot(
  store: Pick<Store, 'listRevocations' | 'revocationsRevision'>,
  caSigners: readonly Signer[],
  nowMs: number,
  clockSkewSeconds: number,
): Promise<SshKrlSnapshot> {
  const skewMs = clockSkewSeconds * 1000;
  const revision = await store.revocationsRevision();
  const revoked = await store.listRevocations(new Date(nowMs - skewMs).toISOString());
  const serialsByCa = new Map<string, bigint[]>();
  let newest = 0;
  let firstExpiry = Infinity;
  for (const revocation of revoked) {
    const serials = serialsByCa.get(revocation.caKeyId) ?? [];
    serials.push(BigInt(revocation.serial));
    serialsByCa.set(revocation.caKeyId, serials);
    newest = Math.max(newest, Date.parse(revocation.revokedAt));
    firstExpiry = Math.min(firstExpiry, Date.parse(revocation.validBefore));
  }
  const seconds = BigInt(Math.floor(newest / 1000));
  const bytes = Buffer.from(
    encodeKrl({
      version: seconds,
      generatedAt: seconds,
      comment: 'jitca',
      certificates: caSigners.map((signer) => ({
        caKeyBlob: sshCaKey(signer.publicKey).blob, // derived once per CA key, as for signing
        serials: serialsByCa.get(signer.keyId) ?? [],
      })),
    }),
  );
  const etag = `"${createHash('sha256').update(bytes).digest('base64url')}"`;
  return { bytes, etag, revision, staleAtMs: firstExpiry + skewMs };
}

export async function buildSshKrl(
  store: Pick<Store, 'listRevocations' | 'revocationsRevision'>,
  caSigners: readonly Signer[],
  nowMs: number,
  clockSkewSeconds: number,
): Promise<Uint8Array> {
  return (await buildSshKrlSnapshot(store, caSigners, nowMs, clockSkewSeconds)).bytes;
}

/** What the published KRL is built from: the store, the keyring's trusted SSH user CAs, the CA's skew allowance. */
export interface SshKrlSource {
  store: Pick<Store, 'listRevocations' | 'revocationsRevision'>;
  keyring: Pick<CaKeyring, 'trusted'>;
  config: { ssh: { backdateSeconds: number } };
}

/**
 * The KRL the CA publishes (GET /v1/trust/ssh-krl through the cache in ssh-krl-cache.ts, `jitca
 * bundle --format krl` directly): one section per SSH user CA generation the keyring trusts, and
 * the clock-skew allowance from the CA's own configuration, so no publisher can leave it out.
 */
export function sshKrlSnapshotOf(source: SshKrlSource, nowMs: number): Promise<SshKrlSnapshot> {
  return buildSshKrlSnapshot(
    source.store,
    source.keyring.trusted('ssh-user').map((generation) => generation.signer),
    nowMs,
    source.config.ssh.backdateSeconds,
  );
}

export async function sshKrlOf(source: SshKrlSource, nowMs: number): Promise<Uint8Array> {
  return (await sshKrlSnapshotOf(source, nowMs)).bytes;
}
