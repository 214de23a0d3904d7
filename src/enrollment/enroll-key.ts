/**
 * POST /v1/keys: binds a public key to the authenticated person. Decide, then act: the challenge
 * is spent, possession of the key proven (possession-proof.ts), the evidence verified and
 * ownership checked before the one write (row + key.enrolled audit record, one transaction); any
 * refusal writes nothing.
 */
import { randomBytes } from 'node:crypto';
import type { AttestationFacts } from '../attestation/attestation-facts.ts';
import { ErrorCodes, JitcaError } from '../errors.ts';
import type { Identity } from '../policy/types.ts';
import { formatAuthorizedKeysLine, parseSshPublicKey } from '../ssh/public-key.ts';
import type { EnrolledKey, Store } from '../store/types.ts';
import type { AttestationEvidence, AttestationVerifier } from './attestation-verifier.ts';
import type { ChallengeRegistry } from './challenges.ts';
import { evidenceProvesPossession, verifyPossession } from './possession-proof.ts';

export interface EnrollmentContext {
  store: Store;
  challenges: ChallengeRegistry;
  verifier: AttestationVerifier;
}

export interface EnrollmentInput {
  /** authorized_keys line of the key to enroll. */
  publicKey: string;
  /** Id of a challenge this person was issued (POST /v1/keys/challenge). */
  challenge: string;
  /** Absent: the key is enrolled as a software key (not attested). */
  attestation?: AttestationEvidence;
  /**
   * Armoured SSHSIG over the challenge's bytes by the key (possession-proof.ts): required unless
   * the attestation itself signs the challenge (FIDO); checked whenever it is sent.
   */
  signature?: string;
}

export async function enrollKey(context: EnrollmentContext, identity: Identity, input: EnrollmentInput): Promise<EnrolledKey> {
  if (identity.via === 'gateway') {
    throw new JitcaError(ErrorCodes.FORBIDDEN, 'keys are enrolled by their owner, not through the gateway');
  }
  // Spent first, so a request refused for any later reason cannot be replayed with it.
  const challenge = await context.challenges.consume(identity.subject, input.challenge);
  const key = parseSshPublicKey(input.publicKey);
  const publicKey = formatAuthorizedKeysLine(key);
  if (input.signature !== undefined || !evidenceProvesPossession(input.attestation?.kind)) verifyPossession(input.signature, key, challenge);
  const facts = input.attestation === undefined ? undefined : context.verifier.verify(input.attestation, key, challenge);
  if (facts !== undefined && facts.publicKey !== publicKey) {
    throw new JitcaError(ErrorCodes.REQUEST_INVALID, 'the attested key is not the key being enrolled', { details: { field: 'attestation' } });
  }

  const existing = await context.store.findEnrolledKey({ fingerprint: key.fingerprint });
  if (existing !== undefined) {
    throw existing.owner === identity.subject
      ? new JitcaError(ErrorCodes.KEY_ALREADY_ENROLLED, `key ${key.fingerprint} is already enrolled to you (id ${existing.id})`, { details: { id: existing.id } })
      : new JitcaError(ErrorCodes.KEY_ENROLLED_ELSEWHERE, `key ${key.fingerprint} is enrolled to someone else; a key belongs to one person`);
  }

  const row: Omit<EnrolledKey, 'enrolledAt'> = {
    id: `key_${randomBytes(16).toString('hex')}`,
    owner: identity.subject,
    fingerprint: key.fingerprint,
    publicKey,
    ...(facts === undefined ? { kind: 'software', attested: false } : factsColumns(facts)),
  };
  const { id: _id, owner: _owner, publicKey: _publicKey, ...audited } = row;
  const record = await context.store.recordKeyEnrollment({
    key: row,
    event: { type: 'key.enrolled', actor: identity.subject, data: { id: row.id, ...audited } },
  });
  return { ...row, enrolledAt: record.at };
}

function factsColumns(facts: AttestationFacts): Pick<EnrolledKey, 'kind' | 'attested' | 'root' | 'serial' | 'firmware' | 'pinPolicy' | 'touchPolicy' | 'formFactor' | 'flags'> {
  return {
    kind: facts.kind,
    attested: facts.attested,
    ...(facts.root === undefined ? {} : { root: facts.root }),
    ...(facts.serial === undefined ? {} : { serial: facts.serial }),
    ...(facts.firmware === undefined ? {} : { firmware: facts.firmware }),
    ...(facts.pinPolicy === undefined ? {} : { pinPolicy: facts.pinPolicy }),
    ...(facts.touchPolicy === undefined ? {} : { touchPolicy: facts.touchPolicy }),
    ...(facts.formFactor === undefined ? {} : { formFactor: facts.formFactor }),
    ...(facts.flags === undefined ? {} : { flags: facts.flags }),
  };
}
