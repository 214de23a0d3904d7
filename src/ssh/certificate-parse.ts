import { ErrorCodes, JitcaError } from '../errors.ts';
import {
  decodeCriticalOptions,
  decodeExtensions,
  decodeOptionList,
  hasControlCharacter,
  type CertificateCriticalOptions,
  type SshCertificateOption,
} from './certificate-options.ts';
import { keyTypeForCertificateType, SSH_CERT_TYPE_HOST, SSH_CERT_TYPE_USER } from './certificate-types.ts';
import { readKeyMaterial } from './key-material.ts';
import { splitKeyLine } from './key-line.ts';
import { decodePublicKeyBlob, publicKeyFromMaterial, readKeyTypeName, type SshPublicKey } from './public-key.ts';
import { decodeSshSignature, verifySshSignature } from './signature.ts';
import { SshReader } from './wire.ts';

export interface ParsedSshCertificate {
  /** Certificate key type, e.g. "ssh-ed25519-cert-v01@openssh.com". */
  type: string;
  blob: Uint8Array;
  comment?: string;
  nonce: Uint8Array;
  /** The certified (plain) public key; its fingerprint is what ssh-keygen -L shows as "Public key". */
  key: SshPublicKey;
  serial: bigint;
  certType: 'user' | 'host';
  keyId: string;
  /** Empty means "any principal" (PROTOCOL.certkeys); callers decide whether to accept that. */
  principals: string[];
  validAfter: bigint;
  validBefore: bigint;
  /** Decoded force-command / source-address / verify-required. */
  criticalOptions: CertificateCriticalOptions;
  /** Critical option names this parser does not know: a verifier must refuse the certificate. */
  unrecognizedCriticalOptions: string[];
  /** Flag extensions (empty data), wire order. */
  extensions: string[];
  /** Extensions whose data is one string (custom name@domain values). */
  customExtensions: Record<string, string>;
  /** Both sections exactly as on the wire. */
  criticalOptionList: SshCertificateOption[];
  extensionList: SshCertificateOption[];
  reserved: Uint8Array;
  /** The CA key that signed the certificate. */
  signatureKey: SshPublicKey;
  /** e.g. "ssh-ed25519", "ecdsa-sha2-nistp256", "rsa-sha2-512". */
  signatureAlgorithm: string;
  /**
   * The signature verifies under signatureKey with an algorithm allowed for it (SHA-1 "ssh-rsa"
   * and sk-* CA keys are never reported valid). Says nothing about whether that CA is trusted.
   */
  signatureValid: boolean;
}

/** A certificate with an RSA-16384 CA and a large attestation extension stays far below this. */
export const MAX_CERTIFICATE_INPUT_BYTES = 64 * 1024;
const MAX_PRINCIPALS = 256;

/**
 * Strict parser for OpenSSH certificates (PROTOCOL.certkeys): a "-cert.pub" line or a raw blob.
 * Bounds-checked reads, no trailing bytes, options sorted and unique, canonical key material.
 */
export function parseCertificate(input: string | Uint8Array): ParsedSshCertificate {
  let blob: Uint8Array;
  let comment: string | undefined;
  let lineType: string | undefined;
  if (typeof input === 'string') {
    checkSize(Buffer.byteLength(input, 'utf8'));
    const line = splitKeyLine(input, certificateKeyType);
    ({ blob, comment, type: lineType } = line);
  } else {
    if (!(input instanceof Uint8Array)) throw new JitcaError(ErrorCodes.KEY_MALFORMED, 'certificate must be a string or bytes');
    checkSize(input.byteLength);
    blob = input.slice();
  }
  const parsed = parseCertificateBlob(blob);
  if (lineType !== undefined && lineType !== parsed.type) {
    throw new JitcaError(
      ErrorCodes.KEY_MALFORMED,
      `line says ${lineType} but the encoded certificate is ${parsed.type}; the two must match`,
    );
  }
  return comment === undefined ? parsed : { ...parsed, comment };
}

function parseCertificateBlob(blob: Uint8Array): ParsedSshCertificate {
  const reader = new SshReader(blob);
  const type = readKeyTypeName(reader);
  const keyType = certificateKeyType(type);
  const nonce = reader.readString();
  const key = publicKeyFromMaterial(keyType, readKeyMaterial(keyType, reader));
  const serial = reader.readUint64();
  const certTypeCode = reader.readUint32();
  if (certTypeCode !== SSH_CERT_TYPE_USER && certTypeCode !== SSH_CERT_TYPE_HOST) {
    throw new JitcaError(ErrorCodes.WIRE_INVALID, `certificate type ${certTypeCode} is neither user (1) nor host (2)`);
  }
  const keyId = reader.readStringUtf8();
  const principals = readPrincipals(reader.readString());
  const validAfter = reader.readUint64();
  const validBefore = reader.readUint64();
  if (validAfter >= validBefore) {
    throw new JitcaError(ErrorCodes.WIRE_INVALID, 'certificate valid-after is not earlier than valid-before');
  }
  const criticalOptionList = decodeOptionList(reader.readString(), 'critical options');
  const extensionList = decodeOptionList(reader.readString(), 'extensions');
  const reserved = reader.readString();
  // Chained certificates are not supported (PROTOCOL.certkeys): decodePublicKeyBlob refuses a
  // certificate type here with ERR_KEY_UNSUPPORTED.
  const signatureKeyBlob = reader.readString();
  const { type: caType, material: caMaterial } = decodePublicKeyBlob(signatureKeyBlob);
  const signedLength = reader.offset;
  const signature = decodeSshSignature(reader.readString());
  reader.ensureEnd('certificate');

  const { criticalOptions, unrecognized } = decodeCriticalOptions(criticalOptionList);
  const { extensions, customExtensions } = decodeExtensions(extensionList);
  return {
    type,
    blob,
    nonce,
    key,
    serial,
    certType: certTypeCode === SSH_CERT_TYPE_USER ? 'user' : 'host',
    keyId,
    principals,
    validAfter,
    validBefore,
    criticalOptions,
    unrecognizedCriticalOptions: unrecognized,
    extensions,
    customExtensions,
    criticalOptionList,
    extensionList,
    reserved,
    signatureKey: publicKeyFromMaterial(caType, caMaterial),
    signatureAlgorithm: signature.algorithm,
    signatureValid: verifySshSignature(signatureKeyBlob, signature, blob.subarray(0, signedLength)),
  };
}

function certificateKeyType(type: string): NonNullable<ReturnType<typeof keyTypeForCertificateType>> {
  const keyType = keyTypeForCertificateType(type);
  if (keyType === undefined) {
    throw new JitcaError(
      ErrorCodes.KEY_UNSUPPORTED,
      `${JSON.stringify(type.slice(0, 64))} is not a supported certificate type (ed25519, ecdsa p256/p384, rsa, sk-ed25519, sk-ecdsa p256)`,
    );
  }
  return keyType;
}

/** "valid principals": a string holding zero or more strings (PROTOCOL.certkeys). */
function readPrincipals(section: Uint8Array): string[] {
  const reader = new SshReader(section);
  const principals: string[] = [];
  while (reader.remaining > 0) {
    if (principals.length === MAX_PRINCIPALS) {
      throw new JitcaError(ErrorCodes.WIRE_INVALID, `certificate lists more than ${MAX_PRINCIPALS} principals`);
    }
    const principal = reader.readStringUtf8();
    if (principal.length === 0 || principal.includes(',') || hasControlCharacter(principal)) {
      throw new JitcaError(ErrorCodes.WIRE_INVALID, 'certificate principal is empty or holds a comma or control character');
    }
    principals.push(principal);
  }
  return principals;
}

function checkSize(bytes: number): void {
  if (bytes > MAX_CERTIFICATE_INPUT_BYTES) {
    throw new JitcaError(
      ErrorCodes.INPUT_TOO_LARGE,
      `certificate input is ${bytes} bytes; at most ${MAX_CERTIFICATE_INPUT_BYTES} are accepted`,
    );
  }
}
