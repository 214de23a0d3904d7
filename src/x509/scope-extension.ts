import { ErrorCodes, JitcaError } from '../errors.ts';
import type { Scope } from '../policy/types.ts';
import {
  DerError,
  TagClass,
  UniversalTag,
  decodeDer,
  decodeObjectIdentifier,
  expectSequence,
  expectUniversal,
  type DerElement,
} from './der-reader.ts';
import { derContextPrimitive, derSequence, derUtf8String } from './der-writer.ts';

/**
 * jitca's scope extension: where a kubectl client certificate may be used, for the gateway and for
 * audit (the Kubernetes API server ignores it: it is not critical, RFC 5280 §4.2, so any relying
 * party that does not know it still accepts the certificate).
 *
 * NOT ISSUED since 2026-12-04. Go's crypto/x509 reads OID arcs of at most 31 bits and refuses the
 * whole certificate otherwise ("x509: malformed extension OID field"), and so does pyca
 * cryptography since 38: kube-apiserver and kubectl, both Go, could not parse a certificate that
 * carried this 2.25.<UUID> OID, so a namespaced credential was unusable against a real cluster.
 * The scope is recorded in the certificate row and the x509.issued audit record instead (the API
 * server never enforced the extension; RBAC does). The format stays here, tested, for reading
 * certificates issued before, and to return under an OID with small arcs once jitca has an IANA
 * Private Enterprise Number (no arc that needs no registration fits Go's limit).
 *
 * The OID sits under 2.25 (X.667 §6.3 / ITU-T "UUID arc", no registration needed): 2.25 followed by
 * the decimal value of UUID ab1f5bce-5e18-4f47-9f00-6d24e8e3a30b, generated once (random, v4) for
 * jitca and never to be changed: certificates already issued carry it.
 *
 * ASN.1 module:
 *
 *   JitcaScope-2026 DEFINITIONS IMPLICIT TAGS ::= BEGIN
 *     id-jitca-scope OBJECT IDENTIFIER ::=
 *       { joint-iso-itu-t(2) uuid(25) 227460810531231583694503017117061980939 }
 *     JitcaScope ::= SEQUENCE {
 *       cluster            UTF8String (SIZE (1..512)),
 *       namespace          UTF8String (SIZE (1..512)),
 *       pod                [0] IMPLICIT UTF8String (SIZE (1..512)) OPTIONAL,
 *       node               [1] IMPLICIT UTF8String (SIZE (1..512)) OPTIONAL,
 *       approvalReference  [2] IMPLICIT UTF8String (SIZE (1..512)) OPTIONAL,
 *       ...  -- later versions may add [3] and up; readers of this version skip them
 *     }
 *   END
 *
 * The extension's extnValue OCTET STRING holds the DER of one JitcaScope. SIZE counts UTF-8 bytes
 * here; control characters are refused in every field.
 */
export const SCOPE_EXTENSION_OID = '2.25.227460810531231583694503017117061980939';

export interface CertificateScope extends Scope {
  /** Which approval let this certificate be issued (request id or approvers), for audit. */
  approvalReference?: string;
}

export const MAX_SCOPE_FIELD_BYTES = 512;

const OPTIONAL_FIELDS = [
  { key: 'pod', tag: 0 },
  { key: 'node', tag: 1 },
  { key: 'approvalReference', tag: 2 },
] as const;

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** DER of a JitcaScope. A field that is empty, too long or holds a control character is ERR_REQUEST_INVALID. */
export function encodeScopeExtension(scope: CertificateScope): Uint8Array {
  const members = [derUtf8String(checkField('cluster', scope.cluster)), derUtf8String(checkField('namespace', scope.namespace))];
  for (const { key, tag } of OPTIONAL_FIELDS) {
    const value = scope[key];
    if (value !== undefined) members.push(derContextPrimitive(tag, Buffer.from(checkField(key, value), 'utf8')));
  }
  return derSequence(members);
}

/** Reads a JitcaScope from extnValue's contents; anything else is ERR_CERTIFICATE_INVALID. */
export function decodeScopeExtension(value: Uint8Array): CertificateScope {
  try {
    return readScope(decodeDer(value));
  } catch (error) {
    if (error instanceof DerError) throw new JitcaError(ErrorCodes.CERTIFICATE_INVALID, `jitca scope extension is not valid: ${error.message}`);
    throw error;
  }
}

/**
 * The scope in a certificate (DER), or undefined when it has no scope extension. A certificate
 * that is not strict DER, or holds the extension twice, is ERR_CERTIFICATE_INVALID.
 */
export function readScopeExtension(certificateDer: Uint8Array): CertificateScope | undefined {
  let value: Uint8Array | undefined;
  try {
    const [tbs] = expectSequence(decodeDer(certificateDer), 'Certificate', 3) as [DerElement];
    expectUniversal(tbs, UniversalTag.sequence, 'TBSCertificate');
    const extensions = tbs.children.find((child) => child.tagClass === TagClass.context && child.tagNumber === 3);
    const list = extensions?.children[0];
    for (const extension of list === undefined ? [] : expectSequence(list, 'Extensions', 1, Number.POSITIVE_INFINITY)) {
      const members = expectSequence(extension, 'Extension', 2, 3);
      if (decodeObjectIdentifier(members[0] as DerElement) !== SCOPE_EXTENSION_OID) continue;
      if (value !== undefined) throw new DerError('certificate holds the scope extension twice');
      value = expectUniversal(members[members.length - 1] as DerElement, UniversalTag.octetString, 'extnValue').content;
    }
  } catch (error) {
    if (error instanceof DerError) throw new JitcaError(ErrorCodes.CERTIFICATE_INVALID, `certificate is not valid: ${error.message}`);
    throw error;
  }
  return value === undefined ? undefined : decodeScopeExtension(value);
}

function readScope(element: DerElement): CertificateScope {
  const members = expectSequence(element, 'JitcaScope', 2, Number.POSITIVE_INFINITY);
  const [cluster, namespace, ...rest] = members as [DerElement, DerElement, ...DerElement[]];
  const scope: CertificateScope = {
    cluster: readUtf8(expectUniversal(cluster, UniversalTag.utf8String, 'cluster'), 'cluster'),
    namespace: readUtf8(expectUniversal(namespace, UniversalTag.utf8String, 'namespace'), 'namespace'),
  };
  let lastTag = -1;
  for (const member of rest) {
    if (member.tagClass !== TagClass.context || member.constructed || member.tagNumber <= lastTag) {
      throw new DerError('JitcaScope optional fields must be primitive [n] fields in increasing order');
    }
    lastTag = member.tagNumber;
    const field = OPTIONAL_FIELDS.find((candidate) => candidate.tag === member.tagNumber);
    if (field !== undefined) scope[field.key] = readUtf8(member, field.key); // [3] and up: a later version's, skipped
  }
  return scope;
}

function readUtf8(element: DerElement, what: string): string {
  let value: string;
  try {
    value = utf8.decode(element.content);
  } catch {
    throw new DerError(`${what} is not valid UTF-8`);
  }
  if (!isAllowedField(value)) throw new DerError(`${what} is empty, longer than ${MAX_SCOPE_FIELD_BYTES} bytes or holds a control character`);
  return value;
}

function checkField(what: string, value: unknown): string {
  if (typeof value !== 'string' || !isAllowedField(value) || !value.isWellFormed()) {
    throw new JitcaError(
      ErrorCodes.REQUEST_INVALID,
      `scope ${what} must be 1 to ${MAX_SCOPE_FIELD_BYTES} bytes of UTF-8 text without control characters`,
      { details: { field: what } },
    );
  }
  return value;
}

function isAllowedField(value: string): boolean {
  const bytes = Buffer.byteLength(value, 'utf8');
  return bytes >= 1 && bytes <= MAX_SCOPE_FIELD_BYTES && !/[\u0000-\u001f\u007f-\u009f]/.test(value);
}
