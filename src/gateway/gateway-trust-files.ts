import { readFileSync } from 'node:fs';
import { ErrorCodes, isJitcaError, JitcaError } from '../errors.ts';
import { decodeKrl } from '../ssh/krl.ts';
import { sshFingerprint } from '../ssh/public-key.ts';
import { sshKeysOfTrustFile } from '../ssh/trusted-ca-keys-file.ts';

/** The two files trust-sync keeps current on an SSH host, as sshd_config names them. */
export interface GatewayTrustFiles {
  /** TrustedUserCAKeys: one CA key per line. */
  trustedCaKeys: string;
  /** RevokedKeys: a KRL, or empty. */
  revokedKeys: string;
}

export interface TrustFileContent {
  trustedCaFingerprints: Set<string>;
  revokedSerials: Map<string, Set<bigint>>;
}

/**
 * Reads the host's trust files the way sshd does, failing closed: an unreadable or malformed file
 * refuses every login (sshd refuses all public keys when RevokedKeys is unreadable), an empty KRL
 * file revokes nothing, and blank and `#` lines in the CA file are skipped.
 */
export function readGatewayTrustFiles(files: GatewayTrustFiles): TrustFileContent {
  const caFile = read(files.trustedCaKeys).toString('utf8');
  const caKeys = within(files.trustedCaKeys, () => sshKeysOfTrustFile(caFile));
  const trustedCaFingerprints = new Set(caKeys.map((key) => sshFingerprint(key.blob)));
  const revokedSerials = new Map<string, Set<bigint>>();
  const krl = read(files.revokedKeys);
  if (krl.length > 0) {
    for (const { caKeyBlob, serials } of within(files.revokedKeys, () => decodeKrl(krl)).certificates) {
      revokedSerials.set(sshFingerprint(caKeyBlob), new Set(serials));
    }
  }
  return { trustedCaFingerprints, revokedSerials };
}

function read(file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'error';
    throw new JitcaError(ErrorCodes.CONFIG_INVALID, `cannot read ${file} (${code}); refusing every login until it is readable`);
  }
}

function within<T>(file: string, parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    if (!isJitcaError(error)) throw error;
    throw new JitcaError(ErrorCodes.CONFIG_INVALID, `${file} is not valid (${error.code}: ${error.message}); refusing every login until it is fixed`, { cause: error });
  }
}

/**
 * Whether the KRL in `revokedKeys` (the file sshd reads, kept by trust-sync) lists this
 * certificate's serial under its CA. Read again on every call: a running session asks it
 * repeatedly. An unreadable or malformed file throws, and a caller treats that as revoked.
 */
export function revokedByKrlFile(revokedKeys: string, certificate: { serial: bigint; signatureKey: { blob: Uint8Array } }): boolean {
  const krl = read(revokedKeys);
  if (krl.length === 0) return false;
  const caFingerprint = sshFingerprint(certificate.signatureKey.blob);
  return within(revokedKeys, () => decodeKrl(krl)).certificates.some(
    ({ caKeyBlob, serials }) => sshFingerprint(caKeyBlob) === caFingerprint && serials.includes(certificate.serial),
  );
}
