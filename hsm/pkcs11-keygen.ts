import pkcs11js from 'pkcs11js';
import type { Mechanism, Template } from 'pkcs11js';
import type { KeyAlgorithm } from './signer.ts';
import {
  CKM_EC_EDWARDS_KEY_PAIR_GEN,
  EC_PARAMS_ED25519,
  EC_PARAMS_P256,
  EC_PARAMS_P384,
  RSA_PUBLIC_EXPONENT,
} from './pkcs11-constants.ts';

export interface KeyPairTemplates {
  mechanism: Mechanism;
  publicKey: Template;
  privateKey: Template;
}

/**
 * Templates for a CA key pair generated inside the token. The private key is a token object
 * that is private (login needed to see it), sensitive (its value is never revealed in plaintext)
 * and not extractable (it cannot be wrapped out either): PKCS#11 2.40 §4.9 then keeps
 * CKA_ALWAYS_SENSITIVE and CKA_NEVER_EXTRACTABLE true for its lifetime. It may sign and nothing
 * else. Label and id are both "<caName>/<generation>".
 */
export function keyPairTemplates(label: string, algorithm: KeyAlgorithm): KeyPairTemplates {
  const id = Buffer.from(label, 'utf8');
  const common: Template = [
    { type: pkcs11js.CKA_TOKEN, value: true },
    { type: pkcs11js.CKA_LABEL, value: label },
    { type: pkcs11js.CKA_ID, value: id },
  ];
  const publicKey: Template = [
    ...common,
    { type: pkcs11js.CKA_PRIVATE, value: false },
    { type: pkcs11js.CKA_VERIFY, value: true },
  ];
  const privateKey: Template = [
    ...common,
    { type: pkcs11js.CKA_PRIVATE, value: true },
    { type: pkcs11js.CKA_SENSITIVE, value: true },
    { type: pkcs11js.CKA_EXTRACTABLE, value: false },
    { type: pkcs11js.CKA_SIGN, value: true },
  ];
  switch (algorithm.kind) {
    case 'ed25519':
      return {
        mechanism: { mechanism: CKM_EC_EDWARDS_KEY_PAIR_GEN },
        publicKey: [...publicKey, { type: pkcs11js.CKA_EC_PARAMS, value: EC_PARAMS_ED25519 }],
        privateKey: [...privateKey, { type: pkcs11js.CKA_DERIVE, value: false }],
      };
    case 'ecdsa':
      return {
        mechanism: { mechanism: pkcs11js.CKM_EC_KEY_PAIR_GEN },
        publicKey: [
          ...publicKey,
          { type: pkcs11js.CKA_EC_PARAMS, value: algorithm.curve === 'P-256' ? EC_PARAMS_P256 : EC_PARAMS_P384 },
        ],
        privateKey: [...privateKey, { type: pkcs11js.CKA_DERIVE, value: false }],
      };
    case 'rsa':
      return {
        mechanism: { mechanism: pkcs11js.CKM_RSA_PKCS_KEY_PAIR_GEN },
        publicKey: [
          ...publicKey,
          { type: pkcs11js.CKA_MODULUS_BITS, value: algorithm.bits },
          { type: pkcs11js.CKA_PUBLIC_EXPONENT, value: RSA_PUBLIC_EXPONENT },
          { type: pkcs11js.CKA_ENCRYPT, value: false },
          { type: pkcs11js.CKA_WRAP, value: false },
        ],
        privateKey: [
          ...privateKey,
          { type: pkcs11js.CKA_DECRYPT, value: false },
          { type: pkcs11js.CKA_UNWRAP, value: false },
        ],
      };
  }
}
