import { ErrorCodes, JitcaError } from '../errors.ts';
import { readCbor, type CborValue } from './cbor-reader.ts';

/** A credential public key from COSE (RFC 9053): the two kinds OpenSSH enrolls. */
export type CredentialKey = { kind: 'ed25519'; x: Uint8Array } | { kind: 'p256'; x: Uint8Array; y: Uint8Array };

/** WebAuthn §6.1 authenticator data, with the attested credential data OpenSSH's enrollments carry. */
export interface AuthenticatorData {
  raw: Uint8Array;
  rpIdHash: Uint8Array;
  flags: { up: boolean; uv: boolean };
  signCount: number;
  aaguid: Uint8Array;
  credentialId: Uint8Array;
  credentialKey: CredentialKey;
}

const FLAG_UP = 0x01;
const FLAG_UV = 0x04;
const FLAG_AT = 0x40;
const FLAG_ED = 0x80;

/**
 * rpIdHash(32) flags(1) signCount(4), then (AT set) aaguid(16) credentialIdLength(2)
 * credentialId credentialPublicKey(COSE), then (ED set) an extensions map, and nothing after.
 * An enrollment without attested credential data has no key to bind: ERR_ATTESTATION_MALFORMED.
 */
export function parseAuthenticatorData(raw: Uint8Array): AuthenticatorData {
  if (raw.length < 37 + 18) throw malformed(`${raw.length} bytes is too short for attested credential data`);
  const flags = raw[32] as number;
  if ((flags & FLAG_AT) === 0) throw malformed('has no attested credential data (AT flag clear)');
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const idLength = view.getUint16(53);
  const keyStart = 55 + idLength;
  if (keyStart > raw.length) throw malformed('credential ID runs past the end');
  const key = readCbor(raw, keyStart);
  let end = key.end;
  if ((flags & FLAG_ED) !== 0) end = readCbor(raw, end).end;
  if (end !== raw.length) throw malformed(`${raw.length - end} unexpected byte(s) at the end`);
  return {
    raw: raw.slice(),
    rpIdHash: raw.slice(0, 32),
    flags: { up: (flags & FLAG_UP) !== 0, uv: (flags & FLAG_UV) !== 0 },
    signCount: view.getUint32(33),
    aaguid: raw.slice(37, 53),
    credentialId: raw.slice(55, keyStart),
    credentialKey: readCoseKey(key.value),
  };
}

/** COSE_Key: kty 1 (OKP) alg -8 (EdDSA) crv 6 (Ed25519) x; or kty 2 (EC2) alg -7 (ES256) crv 1 (P-256) x y. */
function readCoseKey(value: CborValue): CredentialKey {
  if (!(value instanceof Map)) throw malformed('credential public key is not a COSE map');
  const bytes = (label: number, length: number): Uint8Array => {
    const field = value.get(label);
    if (!(field instanceof Uint8Array) || field.length !== length) throw malformed(`COSE key parameter ${label} is not ${length} bytes`);
    return field;
  };
  const [kty, alg, crv] = [value.get(1), value.get(3), value.get(-1)];
  if (kty === 1 && alg === -8 && crv === 6 && value.size === 4) return { kind: 'ed25519', x: bytes(-2, 32) };
  if (kty === 2 && alg === -7 && crv === 1 && value.size === 5) return { kind: 'p256', x: bytes(-2, 32), y: bytes(-3, 32) };
  throw malformed(`COSE key kty ${String(kty)} alg ${String(alg)} crv ${String(crv)} is neither Ed25519 nor ES256 P-256`);
}

function malformed(message: string): JitcaError {
  return new JitcaError(ErrorCodes.ATTESTATION_MALFORMED, `authenticator data: ${message}`);
}
