import { createHash } from 'node:crypto';
import { bitStringBytes, decodeDer, expectSequence, type DerElement } from './der-reader.ts';

/**
 * Key identifier by RFC 5280 §4.2.1.2 method (1): the SHA-1 of the subjectPublicKey BIT STRING's
 * value (without tag, length and unused-bits octet). SHA-1 is what the RFC names; this is an
 * identifier for chain building, not a security function. Throws DerError on a malformed SPKI.
 */
export function keyIdentifierOf(spki: Uint8Array): Uint8Array {
  const [, subjectPublicKey] = expectSequence(decodeDer(spki), 'SubjectPublicKeyInfo', 2) as [DerElement, DerElement];
  return new Uint8Array(createHash('sha1').update(bitStringBytes(subjectPublicKey, 'subjectPublicKey')).digest());
}
