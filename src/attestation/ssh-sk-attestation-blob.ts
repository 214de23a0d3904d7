import { ErrorCodes, JitcaError, isJitcaError } from '../errors.ts';
import { SshReader } from '../ssh/wire.ts';
import { readCbor } from './cbor-reader.ts';

/** What `ssh-keygen -O write-attestation` writes (PROTOCOL.u2f, fill_attestation_blob in ssh-sk.c). */
export interface SshSkAttestationBlob {
  /** DER attestation certificate; empty when the authenticator gave none (fmt "none" or self attestation). */
  certificate: Uint8Array;
  /** The enrollment signature (DER ECDSA for Yubico's certificates); empty with fmt "none". */
  signature: Uint8Array;
  /** The raw authenticator data (unwrapped from its CBOR byte string). */
  authenticatorData: Uint8Array;
}

/** A real blob is about 1 KiB (a certificate, a signature, authenticator data with a 128-byte key handle). */
export const MAX_SSH_SK_ATTESTATION_BYTES = 16 * 1024;

/**
 *	string "ssh-sk-attest-v01", string attestation certificate, string enrollment signature,
 *	string authenticator data (CBOR encoded), uint32 reserved flags, string reserved string.
 * v00 (OpenSSH before 8.4) has no authenticator data, so nothing binds it to a key or a challenge:
 * refused. Any other shape is ERR_ATTESTATION_MALFORMED.
 */
export function parseSshSkAttestationBlob(bytes: Uint8Array): SshSkAttestationBlob {
  if (bytes.length > MAX_SSH_SK_ATTESTATION_BYTES) throw malformed(`${bytes.length} bytes is larger than ${MAX_SSH_SK_ATTESTATION_BYTES}`);
  try {
    const reader = new SshReader(bytes);
    const magic = Buffer.from(reader.readString()).toString('latin1');
    if (magic === 'ssh-sk-attest-v00') throw malformed('ssh-sk-attest-v00 (OpenSSH before 8.4) carries no authenticator data; generate the key again with OpenSSH 8.4 or later');
    if (magic !== 'ssh-sk-attest-v01') throw malformed('does not start with "ssh-sk-attest-v01"');
    const certificate = reader.readString();
    const signature = reader.readString();
    const wrapped = reader.readString();
    reader.readUint32(); // reserved flags: OpenSSH writes 0 and reads nothing from them
    reader.readString(); // reserved string
    reader.ensureEnd('ssh-sk-attest-v01 blob');
    const authenticatorData = readCbor(wrapped, 0);
    if (!(authenticatorData.value instanceof Uint8Array) || authenticatorData.end !== wrapped.length) {
      throw malformed('authenticator data is not one CBOR byte string');
    }
    return { certificate, signature, authenticatorData: authenticatorData.value };
  } catch (error) {
    if (isJitcaError(error) && error.code !== ErrorCodes.ATTESTATION_MALFORMED) throw malformed(error.message);
    throw error;
  }
}

function malformed(message: string): JitcaError {
  return new JitcaError(ErrorCodes.ATTESTATION_MALFORMED, `ssh-sk attestation: ${message}`);
}
