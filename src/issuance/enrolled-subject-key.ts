/**
 * The key policy judges, with its enrollment when the requester enrolled it: issuance looks it up
 * (by fingerprint, owned by the caller) and policy decides on the facts (policy/key-requirements.ts).
 * Someone else's enrollment of the same key counts as none.
 */
import { requiresEnrollment } from '../policy/key-requirements.ts';
import type { Identity, KeyEnrollmentFacts, Policy, SubjectKey } from '../policy/types.ts';
import type { SshPublicKey } from '../ssh/public-key.ts';
import type { EnrolledKey, Store } from '../store/types.ts';

export async function withEnrollment(store: Store, policy: Policy, identity: Identity, key: SshPublicKey): Promise<SubjectKey> {
  const subject: SubjectKey = { type: key.type, isSecurityKey: key.isSecurityKey };
  // No role asks about enrollment: spare every issuance the read.
  if (!policy.roles.some((role) => role.key !== undefined && requiresEnrollment(role.key))) return subject;
  const enrolled = await store.findEnrolledKey({ fingerprint: key.fingerprint });
  if (enrolled === undefined || enrolled.owner !== identity.subject) return subject;
  return { ...subject, enrollment: factsOf(enrolled) };
}

export function factsOf(enrolled: Pick<EnrolledKey, 'kind' | 'attested' | 'root' | 'firmware' | 'pinPolicy' | 'touchPolicy' | 'flags'>): KeyEnrollmentFacts {
  return {
    kind: enrolled.kind,
    attested: enrolled.attested,
    ...(enrolled.root === undefined ? {} : { root: enrolled.root }),
    ...(enrolled.firmware === undefined ? {} : { firmware: enrolled.firmware }),
    ...(enrolled.pinPolicy === undefined ? {} : { pinPolicy: enrolled.pinPolicy }),
    ...(enrolled.touchPolicy === undefined ? {} : { touchPolicy: enrolled.touchPolicy }),
    ...(enrolled.flags === undefined ? {} : { flags: enrolled.flags }),
  };
}
