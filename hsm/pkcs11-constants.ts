/**
 * PKCS#11 3.0 values pkcs11js (2.1.x, a 2.40 binding) does not export, and the DER parameters
 * jitca writes into key templates. Values from the PKCS#11 3.0 base specification §6 and
 * pkcs11t.h; OIDs from RFC 8410 §3 and RFC 5480 §2.1.1.1.
 */
export const CKM_EC_EDWARDS_KEY_PAIR_GEN = 0x1055;
export const CKM_EDDSA = 0x1057;
export const CKK_EC_EDWARDS = 0x40;

/** CKS_RW_USER_FUNCTIONS (PKCS#11 2.40 §5.5): a read/write session of a logged-in user. */
export const CKS_RW_USER_FUNCTIONS = 3;

/** CKA_EC_PARAMS: DER OBJECT IDENTIFIER of the curve (ECParameters namedCurve choice). */
export const EC_PARAMS_ED25519 = Buffer.from('06032b6570', 'hex'); // 1.3.101.112 id-Ed25519
export const EC_PARAMS_P256 = Buffer.from('06082a8648ce3d030107', 'hex'); // 1.2.840.10045.3.1.7
export const EC_PARAMS_P384 = Buffer.from('06052b81040022', 'hex'); // 1.3.132.0.34
/** PKCS#11 3.0 §2.3.10 also allows the curve name as a PrintableString for Edwards keys. */
export const EC_PARAMS_ED25519_NAME = Buffer.from('130c656477617264733235353139', 'hex'); // "edwards25519"

export const RSA_PUBLIC_EXPONENT = Buffer.from([0x01, 0x00, 0x01]); // 65537
