import { createHash, createPublicKey, type X509Certificate } from 'node:crypto';
import type { CaKeyring, KeyringGeneration } from '../../rotation/ca-keyring.ts';
import type { HashName, KeyAlgorithm, Signer } from '../keys/signer.ts';
import { formatAuthorizedKeysLine, sshPublicKeyFromKeyObject } from '../ssh/public-key.ts';
import type { CaKind } from '../store/types.ts';

/** `typ` of the JWS: a verifier refuses any other signed object made with the same key. */
export const TRUST_BUNDLE_TYPE = 'jitca-trust-bundle+jws';

/** One trusted generation as GET /v1/trust/bundle.json lists it. */
export interface TrustBundleGeneration {
  ca: CaKind;
  generation: number;
  /** The key manager's slot, e.g. "ssh-user-ca/2": the JWS header's `kid` names the signer by it. */
  keyId: string;
  state: 'next' | 'active' | 'retiring';
  algorithm: string;
  createdAt: string;
  activatedAt?: string;
  retiringAt?: string;
  /** SubjectPublicKeyInfo DER, base64: what verifies the generation's signatures (and this JWS). */
  publicKey: string;
  /** ssh-user: "SHA256:..." as `ssh-keygen -l` prints it. kube-client: SHA-256 (hex) of the CA certificate's DER. */
  fingerprint?: string;
  /** ssh-user: the TrustedUserCAKeys line. */
  sshPublicKey?: string;
  /** kube-client: the CA certificate (PEM). */
  certificatePem?: string;
}

export interface TrustBundleDocument {
  format: 'jitca-trust-bundle/1';
  generations: TrustBundleGeneration[];
}

export interface SignedTrustBundle {
  /** Compact JWS over the document's JSON. */
  jws: string;
  /** Content hash of the document (not of the signature), so replicas agree whatever their signatures. */
  etag: string;
}

/** The ssh-keygen -l fingerprint of a generation's SSH key. */
export function sshFingerprintOf(generation: Pick<KeyringGeneration, 'publicKey'>): string {
  return sshPublicKeyFromKeyObject(createPublicKey({ key: Buffer.from(generation.publicKey, 'base64'), format: 'der', type: 'spki' })).fingerprint;
}

/**
 * Every trusted generation of both CAs (the keyring's next, active and retiring), oldest first.
 * No issue date: the same generations give the same bytes, hence the same ETag on every replica.
 */
export function trustBundleDocument(
  keyring: Pick<CaKeyring, 'trusted'>,
  kubeCertificate: (generation: KeyringGeneration) => X509Certificate | undefined,
): TrustBundleDocument {
  const entry = (generation: KeyringGeneration): TrustBundleGeneration => ({
    ca: generation.ca,
    generation: generation.generation,
    keyId: generation.keyId,
    state: generation.state as TrustBundleGeneration['state'],
    algorithm: generation.algorithm,
    createdAt: generation.createdAt,
    ...(generation.activatedAt === undefined ? {} : { activatedAt: generation.activatedAt }),
    ...(generation.retiringAt === undefined ? {} : { retiringAt: generation.retiringAt }),
    publicKey: generation.publicKey,
  });
  const ssh = keyring.trusted('ssh-user').map((generation) => {
    const key = sshPublicKeyFromKeyObject(generation.signer.publicKey);
    return { ...entry(generation), fingerprint: key.fingerprint, sshPublicKey: formatAuthorizedKeysLine(key, `jitca:${generation.keyId}`) };
  });
  const kube = keyring.trusted('kube-client').map((generation) => {
    const certificate = kubeCertificate(generation);
    // A generation whose certificate is not written yet is listed by its key alone.
    return certificate === undefined
      ? entry(generation)
      : { ...entry(generation), fingerprint: createHash('sha256').update(certificate.raw).digest('hex'), certificatePem: certificate.toString() };
  });
  return { format: 'jitca-trust-bundle/1', generations: [...ssh, ...kube] };
}

/** The JWS `alg` for a key and the digest its signature is made over (RFC 7518 §3.1, RFC 8037). */
export function jwsAlgorithmFor(algorithm: KeyAlgorithm): { alg: string; hash: HashName } {
  switch (algorithm.kind) {
    case 'ed25519':
      return { alg: 'EdDSA', hash: 'sha512' };
    case 'ecdsa':
      return algorithm.curve === 'P-256' ? { alg: 'ES256', hash: 'sha256' } : { alg: 'ES384', hash: 'sha384' };
    case 'rsa':
      return { alg: 'RS256', hash: 'sha256' };
  }
}

/**
 * Signs the document as a compact JWS with the key manager's signer (the HSM). The seam's
 * signature forms are already JWS's: Ed25519 R||S, ECDSA r||s (RFC 7518 §3.4), RSA PKCS#1 v1.5.
 */
export async function signTrustBundle(document: TrustBundleDocument, signer: Signer): Promise<SignedTrustBundle> {
  const { alg, hash } = jwsAlgorithmFor(signer.algorithm);
  const payload = Buffer.from(JSON.stringify(document));
  const header = Buffer.from(JSON.stringify({ alg, kid: signer.keyId, typ: TRUST_BUNDLE_TYPE }));
  const input = `${header.toString('base64url')}.${payload.toString('base64url')}`;
  const signature = await signer.sign(Buffer.from(input), { hash });
  return { jws: `${input}.${Buffer.from(signature).toString('base64url')}`, etag: `"${createHash('sha256').update(payload).digest('base64url')}"` };
}

/**
 * The signed bundle, built once per keyring change (keyring.version) and served from memory: a
 * poll from every host costs no HSM signature. Concurrent first requests share one build.
 */
export function signedTrustBundleSource(
  keyring: Pick<CaKeyring, 'trusted' | 'active' | 'version'>,
  kubeCertificate: (generation: KeyringGeneration) => X509Certificate | undefined,
): () => Promise<SignedTrustBundle> {
  let built: { version: number; bundle: Promise<SignedTrustBundle> } | undefined;
  return () => {
    if (built?.version !== keyring.version) {
      const version = keyring.version;
      const bundle = signTrustBundle(trustBundleDocument(keyring, kubeCertificate), keyring.active('ssh-user').signer);
      // A failed build (HSM down) is not kept: the next request tries again.
      bundle.catch(() => {
        if (built?.version === version) built = undefined;
      });
      built = { version, bundle };
    }
    return built.bundle;
  };
}

