/**
 * The possession signature `jitca enroll` sends with a plain or PIV-attested key
 * (src/enrollment/possession-proof.ts): an SSHSIG over the challenge's bytes, made by the key
 * being enrolled. ssh-agent first: the key never leaves it, and it is the way to a PIV key
 * (`ssh-add -s` the PKCS#11 module). Otherwise `ssh-keygen -Y sign` with the private key file
 * beside the .pub, which asks for its passphrase (or a touch) on the terminal itself.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { ENROLLMENT_NAMESPACE } from '../enrollment/possession-proof.ts';
import { ErrorCodes, JitcaError } from '../errors.ts';
import type { SshPublicKey } from '../ssh/public-key.ts';
import { listAgentIdentities, sshsigThroughAgent } from './ssh-agent-sign.ts';

export interface PossessionSigners {
  /** SSH_AUTH_SOCK; unset or empty: no agent is asked. */
  agentSocket?: string;
  /** The private key file for ssh-keygen -Y sign (the --key path without .pub), if there is one. */
  privateKeyFile?: string;
}

/** A security key may wait for a touch or PIN; bounded all the same. */
const SSH_KEYGEN_TIMEOUT_MS = 120_000;

export async function signEnrollmentChallenge(key: SshPublicKey, challenge: Uint8Array, signers: PossessionSigners): Promise<string> {
  if (signers.agentSocket !== undefined && signers.agentSocket !== '' && (await agentHolds(signers.agentSocket, key))) {
    return sshsigThroughAgent(signers.agentSocket, key.blob, ENROLLMENT_NAMESPACE, challenge);
  }
  if (signers.privateKeyFile !== undefined && existsSync(signers.privateKeyFile)) return signWithKeyFile(signers.privateKeyFile, challenge);
  throw new JitcaError(
    ErrorCodes.REQUEST_INVALID,
    `enrolling ${key.fingerprint} needs a signature by its private key, and neither ssh-agent holds it nor is its private key beside the .pub file; ` +
      'load it into the agent (ssh-add FILE, or ssh-add -s /path/to/libykcs11.so for a PIV key)',
  );
}

async function agentHolds(socket: string, key: SshPublicKey): Promise<boolean> {
  try {
    return (await listAgentIdentities(socket)).some((identity) => Buffer.from(identity.blob).equals(key.blob));
  } catch (error) {
    // No agent answering is not an error here: the key file may still sign.
    if (error instanceof JitcaError) return false;
    throw error;
  }
}

function signWithKeyFile(privateKeyFile: string, challenge: Uint8Array): string {
  // No file argument: ssh-keygen signs its standard input and writes the signature to standard output.
  const run = spawnSync('ssh-keygen', ['-q', '-Y', 'sign', '-n', ENROLLMENT_NAMESPACE, '-f', privateKeyFile], {
    input: challenge,
    stdio: ['pipe', 'pipe', 'inherit'],
    encoding: 'utf8',
    timeout: SSH_KEYGEN_TIMEOUT_MS,
  });
  if (run.status !== 0 || !run.stdout.includes('-----BEGIN SSH SIGNATURE-----')) {
    throw new JitcaError(ErrorCodes.REQUEST_INVALID, `ssh-keygen -Y sign -f ${privateKeyFile} failed (exit ${run.status ?? run.signal}); is it the private key of the key being enrolled?`);
  }
  return run.stdout;
}
