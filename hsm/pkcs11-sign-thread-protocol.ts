import type { Handle, Mechanism } from 'pkcs11js';

/**
 * How the thread checks the token's signature before answering, as a relying party would: the
 * public key (SubjectPublicKeyInfo DER) and what was signed. ECDSA's input to C_Sign is a digest,
 * so the message and its hash come along; Ed25519 and RSA sign `input` itself.
 */
export interface SignatureCheck {
  spki: Uint8Array;
  kind: 'ed25519' | 'ecdsa' | 'rsa';
  hash?: 'sha256' | 'sha384' | 'sha512';
  message?: Uint8Array;
}

/** One signature for a signing thread: C_SignInit(session, mechanism, key) + C_Sign(input), then the check. */
export interface SignCall {
  id: number;
  session: Handle;
  mechanism: Mechanism;
  key: Handle;
  input: Uint8Array;
  signatureLength: number;
  check: SignatureCheck;
}

/**
 * Its answer: the signature (checked), or what the failed call threw (a CKR_* name, or another
 * error), or that the token's signature did not verify.
 */
export interface SignReply {
  id: number;
  signature?: Uint8Array;
  error?: { ckr: string; code: number } | { message: string } | { unverified: true };
}
