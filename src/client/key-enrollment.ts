/**
 * The engineer's side of enrollment, for `jitca enroll` and `jitca keys`: fetch a challenge, enroll
 * a key with its evidence, list and remove keys; and the ssh-keygen command line that makes a FIDO
 * key with an attestation over the CA's challenge (attestation exists only at generation time).
 */
import { ErrorCodes, JitcaError } from '../errors.ts';
import type { ApiSession } from './approver-requests.ts';
import { requestJson } from './http-json.ts';
import { serverRefusal } from './server-refusal.ts';

export type EnrolledKeyReply = Record<string, unknown>;

/** What the helper read from the device or files, as POST /v1/keys takes it. */
export type EnrollmentEvidence =
  | { kind: 'piv'; slotCertificate: string; f9Certificate: string }
  | { kind: 'piv-csr'; csr: string }
  | { kind: 'fido'; attestation: string };

const CHALLENGE_ID = /^[A-Za-z0-9_-]{43}$/;
const KEY_ID = /^key_[0-9a-f]{32}$/;

/** A fresh challenge: its id and the 32 bytes it stands for (the id is their base64url). */
export async function fetchChallenge(session: ApiSession): Promise<{ id: string; bytes: Buffer }> {
  const response = await requestJson(`${session.server}/v1/keys/challenge`, { method: 'POST', body: {}, headers: authorization(session), ca: session.ca });
  if (response.status !== 200) throw serverRefusal(response);
  const id = response.body['challenge'];
  if (typeof id !== 'string' || !CHALLENGE_ID.test(id)) throw new JitcaError(ErrorCodes.SERVER_REFUSED, 'the server answered without a well-formed challenge');
  return { id, bytes: Buffer.from(id, 'base64url') };
}

/** The challenge id for bytes a challenge file holds (ssh-keygen -O challenge=FILE). */
export function challengeIdOf(bytes: Uint8Array): string {
  if (bytes.length !== 32) throw new JitcaError(ErrorCodes.REQUEST_INVALID, `a challenge file holds the 32 bytes jitca issued, not ${bytes.length}`);
  return Buffer.from(bytes).toString('base64url');
}

/** `proof`: the evidence, and the possession signature (possession-signature.ts) where the evidence does not sign the challenge. */
export async function enrollPublicKey(session: ApiSession, publicKey: string, challenge: string, proof: { attestation?: EnrollmentEvidence; signature?: string } = {}): Promise<EnrolledKeyReply> {
  const { attestation, signature } = proof;
  const response = await requestJson(`${session.server}/v1/keys`, {
    body: { publicKey, challenge, ...(attestation === undefined ? {} : { attestation }), ...(signature === undefined ? {} : { signature }) },
    headers: authorization(session),
    ca: session.ca,
  });
  if (response.status !== 201) throw serverRefusal(response);
  return response.body;
}

export async function listEnrolledKeys(session: ApiSession, options: { all?: boolean; owner?: string } = {}): Promise<EnrolledKeyReply[]> {
  const query = new URLSearchParams();
  if (options.all === true) query.set('all', 'true');
  if (options.owner !== undefined) query.set('owner', options.owner);
  const suffix = query.size === 0 ? '' : `?${query.toString()}`;
  const response = await requestJson(`${session.server}/v1/keys${suffix}`, { headers: authorization(session), ca: session.ca });
  if (response.status !== 200) throw serverRefusal(response);
  const keys = response.body['keys'];
  if (!Array.isArray(keys)) throw new JitcaError(ErrorCodes.SERVER_REFUSED, 'the server answered the list without keys');
  return keys.filter((key): key is EnrolledKeyReply => typeof key === 'object' && key !== null);
}

export async function removeEnrolledKey(session: ApiSession, id: string): Promise<void> {
  if (!KEY_ID.test(id)) throw new JitcaError(ErrorCodes.REQUEST_INVALID, 'a key id is "key_" and 32 hex digits, as jitca keys list shows it');
  const response = await requestJson(`${session.server}/v1/keys/${id}`, { method: 'DELETE', headers: authorization(session), ca: session.ca });
  if (response.status !== 200) throw serverRefusal(response);
}

export interface SkKeygenOptions {
  /** Where the private key handle goes; the public key is `${keyFile}.pub`. */
  keyFile: string;
  challengeFile: string;
  attestationFile: string;
  /** ecdsa-sk instead of ed25519-sk (older authenticators). */
  ecdsa?: boolean;
  /** -O verify-required: the authenticator asks for its PIN or biometric at each use (roles with userVerification). */
  verifyRequired?: boolean;
  /** -O resident: the key handle is kept on the authenticator too. */
  resident?: boolean;
}

/** ssh-keygen's argv for a FIDO key attested over the CA's challenge. */
export function skKeygenArguments(options: SkKeygenOptions): string[] {
  return [
    '-t',
    options.ecdsa === true ? 'ecdsa-sk' : 'ed25519-sk',
    '-f',
    options.keyFile,
    '-O',
    `challenge=${options.challengeFile}`,
    '-O',
    `write-attestation=${options.attestationFile}`,
    ...(options.verifyRequired === true ? ['-O', 'verify-required'] : []),
    ...(options.resident === true ? ['-O', 'resident'] : []),
  ];
}

function authorization(session: ApiSession): Record<string, string> {
  return { authorization: `Bearer ${session.token}` };
}
