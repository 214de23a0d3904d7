import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import pkcs11js from 'pkcs11js';
import type { Handle, PKCS11 } from 'pkcs11js';
import { HsmErrorCodes, HsmError } from './hsm-error.ts';
import type { Signer } from './signer.ts';
import { CKM_EC_EDWARDS_KEY_PAIR_GEN, EC_PARAMS_ED25519 } from './pkcs11-constants.ts';
import { toHsmError } from './pkcs11-errors.ts';
import type { SessionLease } from './pkcs11-session-pool.ts';
import { signatureOperation, type SignatureOperation } from './pkcs11-signature-mechanism.ts';
import { findPrivateKeys } from './pkcs11-signer.ts';
import { openPkcs11Token, sessionPoolOf, type Pkcs11Token, type Pkcs11TokenOptions } from './pkcs11-token.ts';

export interface RawSignRate {
  perSecond: number;
  count: number;
  /** Measured wall-clock duration. */
  seconds: number;
  sessions: number;
}

/**
 * The raw PKCS#11 reference for benchmarks: signatures driven straight through pkcs11js
 * (C_SignInit + C_SignAsync in a loop on every pooled session at once), with none of jitca's
 * layers above (no Signer, no per-signature pool hand-off, no certificate building). Issuance
 * can approach this rate but never exceed it.
 *
 * With a `signer` (one of this token's), it signs with that very key and its mechanism (for
 * ECDSA the digest is computed once, outside the loop). Without, it uses Ed25519 with a temporary
 * session object (CKA_TOKEN false) generated inside the token and destroyed afterwards, so
 * measuring leaves nothing behind. Signs a 512-byte message, about the size of an OpenSSH
 * certificate's signed part.
 */
export function measureRawPkcs11SignRate(source: Pkcs11Token | Pkcs11TokenOptions, seconds: number): Promise<RawSignRate>;
export function measureRawPkcs11SignRate(source: Pkcs11Token | Pkcs11TokenOptions, signer: Signer, seconds: number): Promise<RawSignRate>;
export async function measureRawPkcs11SignRate(
  source: Pkcs11Token | Pkcs11TokenOptions,
  signerOrSeconds: Signer | number,
  secondsIfSigner?: number,
): Promise<RawSignRate> {
  const signer = typeof signerOrSeconds === 'number' ? undefined : signerOrSeconds;
  const seconds = typeof signerOrSeconds === 'number' ? signerOrSeconds : (secondsIfSigner ?? 2);
  const token = 'modulePath' in source ? openPkcs11Token(source) : source;
  const pool = sessionPoolOf(token);
  const api = pool.api;
  const leases: SessionLease[] = [];
  let failure: unknown;
  try {
    for (let i = 0; i < pool.size; i += 1) leases.push(await pool.acquire());
    const owner = leases[0];
    if (owner === undefined) throw new Error('the pool has no sessions');
    const message = randomBytes(512);
    if (signer !== undefined) {
      const [privateKey] = findPrivateKeys(pool, owner.session, signer.keyId);
      if (privateKey === undefined) {
        throw new HsmError(HsmErrorCodes.HSM_KEY_NOT_FOUND, `key ${signer.keyId} is not in token "${pool.tokenLabel}"`, {
          details: { keyId: signer.keyId },
        });
      }
      return await signLoop(api, leases, privateKey, signatureOperation(signer.algorithm, message, {}), seconds);
    }
    const pair = api.C_GenerateKeyPair(
      owner.session,
      { mechanism: CKM_EC_EDWARDS_KEY_PAIR_GEN },
      [
        { type: pkcs11js.CKA_TOKEN, value: false },
        { type: pkcs11js.CKA_VERIFY, value: true },
        { type: pkcs11js.CKA_EC_PARAMS, value: EC_PARAMS_ED25519 },
      ],
      [
        { type: pkcs11js.CKA_TOKEN, value: false },
        { type: pkcs11js.CKA_PRIVATE, value: true },
        { type: pkcs11js.CKA_SENSITIVE, value: true },
        { type: pkcs11js.CKA_EXTRACTABLE, value: false },
        { type: pkcs11js.CKA_SIGN, value: true },
      ],
    );
    try {
      return await signLoop(api, leases, pair.privateKey, signatureOperation({ kind: 'ed25519' }, message, {}), seconds);
    } finally {
      api.C_DestroyObject(owner.session, pair.privateKey);
      api.C_DestroyObject(owner.session, pair.publicKey);
    }
  } catch (error) {
    failure = error;
    throw toHsmError(error, 'measure the raw PKCS#11 sign rate');
  } finally {
    for (const lease of leases) pool.release(lease, failure);
    if (token !== source) token.close();
  }
}

async function signLoop(
  api: PKCS11,
  leases: readonly SessionLease[],
  privateKey: Handle,
  operation: SignatureOperation,
  seconds: number,
): Promise<RawSignRate> {
  let count = 0;
  const started = performance.now();
  const deadline = started + seconds * 1000;
  await Promise.all(
    leases.map(async (lease) => {
      const out = Buffer.alloc(operation.signatureLength);
      while (performance.now() < deadline) {
        api.C_SignInit(lease.session, operation.mechanism, privateKey);
        await api.C_SignAsync(lease.session, operation.input, out);
        count += 1;
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  return { perSecond: count / elapsed, count, seconds: elapsed, sessions: leases.length };
}
