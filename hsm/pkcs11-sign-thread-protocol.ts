import type { Handle, Mechanism } from 'pkcs11js';

/** One signature for a signing thread: C_SignInit(session, mechanism, key) + C_Sign(input). */
export interface SignCall {
  id: number;
  session: Handle;
  mechanism: Mechanism;
  key: Handle;
  input: Uint8Array;
  signatureLength: number;
}

/** Its answer: the signature, or what the failed call threw (a CKR_* name, or another error). */
export interface SignReply {
  id: number;
  signature?: Uint8Array;
  error?: { ckr: string; code: number } | { message: string };
}
