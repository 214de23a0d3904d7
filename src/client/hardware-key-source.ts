/**
 * Keys whose private half `jitca ssh-cert` cannot read and should not: a PIV key in a YubiKey (or
 * any PKCS#11 token), or a key an ssh-agent holds. The helper needs only the public key to ask
 * for a certificate; ssh then signs with the token or the agent (ssh -I MODULE, or the agent)
 * and presents the certificate from the file named by CertificateFile.
 *
 * Which key: the one named by fingerprint; else the one key of the token or agent that the
 * engineer has enrolled with jitca (GET /v1/keys), so a role that requires an enrolled or
 * attested key gets that key; else the only key there is. Anything else is ambiguous, and the
 * helper says which fingerprints it saw rather than guessing.
 */
import { spawnSync } from 'node:child_process';
import { ErrorCodes, JitcaError, isJitcaError } from '../errors.ts';
import { parseSshPublicKey, type SshPublicKey } from '../ssh/public-key.ts';
import { listAgentIdentities } from './ssh-agent-sign.ts';

export type HardwareKeySource = { kind: 'token'; module: string } | { kind: 'agent'; socket: string };

/** A token may ask for nothing to list public keys, but a slow reader is still bounded. */
const SSH_KEYGEN_TIMEOUT_MS = 30_000;

/** The public keys the token or agent offers (certificates an agent holds are left out). */
export async function publicKeysFrom(source: HardwareKeySource): Promise<SshPublicKey[]> {
  if (source.kind === 'agent') {
    const identities = await listAgentIdentities(source.socket);
    return identities.flatMap((identity) => parsedOrNothing(identity.blob));
  }
  // ssh-keygen -D lists the token's public keys as authorized_keys lines, reading only public
  // objects: no PIN is asked. (OpenSSH 9.2 lists RSA and ECDSA keys; its PKCS#11 code has no Ed25519.)
  const listed = spawnSync('ssh-keygen', ['-D', source.module], { encoding: 'utf8', timeout: SSH_KEYGEN_TIMEOUT_MS, stdio: ['ignore', 'pipe', 'pipe'] });
  if (listed.status !== 0) {
    throw new JitcaError(ErrorCodes.REQUEST_INVALID, `ssh-keygen -D ${source.module} could not list the token's keys (exit ${listed.status ?? listed.signal}); is the module path right and the token present?`);
  }
  return listed.stdout
    .split('\n')
    .filter((line) => line.trim() !== '')
    .flatMap((line) => parsedOrNothing(line));
}

/**
 * A key type jitca does not certify (a certificate an agent holds included: the public key
 * parser takes plain keys only) is not a candidate; it is not an error to hold one.
 */
function parsedOrNothing(input: string | Uint8Array): SshPublicKey[] {
  try {
    return [parseSshPublicKey(input)];
  } catch (error) {
    if (isJitcaError(error)) return [];
    throw error;
  }
}

/**
 * Pure: the key to certify among `candidates`. `wanted` is a fingerprint the engineer named;
 * `enrolled` the fingerprints of their enrolled keys.
 */
export function pickHardwareKey(candidates: readonly SshPublicKey[], enrolled: readonly string[], wanted?: string): SshPublicKey {
  const seen = candidates.map((key) => key.fingerprint).join(', ') || 'none';
  if (wanted !== undefined) {
    const named = candidates.find((key) => key.fingerprint === wanted);
    if (named === undefined) throw new JitcaError(ErrorCodes.REQUEST_INVALID, `no key ${wanted} here (keys seen: ${seen})`);
    return named;
  }
  const enrolledHere = candidates.filter((key) => enrolled.includes(key.fingerprint));
  if (enrolledHere.length === 1) return enrolledHere[0]!;
  if (enrolledHere.length === 0 && candidates.length === 1) return candidates[0]!;
  if (candidates.length === 0) throw new JitcaError(ErrorCodes.REQUEST_INVALID, 'the token or agent offers no key jitca can certify');
  throw new JitcaError(ErrorCodes.REQUEST_INVALID, `several keys could be meant (${seen}); name one with --key-fingerprint`);
}
