import { ErrorCodes, JitcaError } from '../errors.ts';
import type { AttestationCertificate } from './attestation-certificate.ts';
import type { RootSet } from './root-set.ts';

/** Real chains have two to five certificates; a longer walk is a loop or a hostile bundle. */
const MAX_CHAIN_LENGTH = 6;

/**
 * Verifies `presented` (leaf first, each certificate issued by the next) link by link and then
 * extends it through the set's intermediates to one of its roots. Returns the root.
 *
 * Each link: the child's issuer Name equals the parent's subject Name (DER bytes), the child's
 * signature verifies with the parent's key (RSA or ECDSA, by OpenSSL), the parent is not marked
 * CA:FALSE. Every certificate, the root included, is within its validity at `now`.
 * Deliberately not an RFC 5280 profile (PROVENANCE.md): real Yubico chains lack key identifiers,
 * some f9 certificates have no basicConstraints at all, the U2F root's pathlen 0 is exceeded by
 * the PIV chains under it, and the roots' basicConstraints are not critical. None of these is
 * checked. Failures are ERR_ATTESTATION_CHAIN.
 */
export function verifyChain(presented: readonly AttestationCertificate[], set: RootSet, now: Date): AttestationCertificate {
  if (presented.length === 0) throw chainError('no certificate to verify');
  for (const certificate of presented) checkValidity(certificate, now);
  for (let index = 0; index + 1 < presented.length; index += 1) {
    const child = presented[index] as AttestationCertificate;
    const parent = presented[index + 1] as AttestationCertificate;
    if (!issues(parent, child)) throw chainError(`"${child.name}" is not signed by the next certificate given, "${parent.name}"`);
    checkMayIssue(parent);
  }
  const last = presented[presented.length - 1] as AttestationCertificate;
  const root = extendToRoot(last, set, now, presented.length);
  if (root === undefined) throw chainError(`no configured root or intermediate issued "${last.name}"`);
  return root;
}

function extendToRoot(certificate: AttestationCertificate, set: RootSet, now: Date, length: number): AttestationCertificate | undefined {
  if (set.roots.some((root) => sameCertificate(root, certificate))) return certificate;
  const root = set.roots.find((candidate) => issues(candidate, certificate));
  if (root !== undefined) {
    checkMayIssue(root);
    checkValidity(root, now);
    return root;
  }
  if (length >= MAX_CHAIN_LENGTH) return undefined;
  for (const intermediate of set.intermediates) {
    if (sameCertificate(intermediate, certificate) || !issues(intermediate, certificate)) continue;
    checkMayIssue(intermediate);
    checkValidity(intermediate, now);
    const found = extendToRoot(intermediate, set, now, length + 1);
    if (found !== undefined) return found;
  }
  return undefined;
}

function issues(parent: AttestationCertificate, child: AttestationCertificate): boolean {
  if (!Buffer.from(child.fields.issuer).equals(parent.fields.subject)) return false;
  try {
    return child.x509.verify(parent.x509.publicKey);
  } catch {
    return false; // a key or signature OpenSSL cannot use is a signature that does not verify
  }
}

/** The CA flag "where present": an issuer that says CA:FALSE may not issue; one that says nothing may. */
function checkMayIssue(issuer: AttestationCertificate): void {
  if (issuer.fields.basicConstraints?.ca === false) throw chainError(`"${issuer.name}" is marked CA:FALSE but issued a certificate in the chain`);
}

function checkValidity(certificate: AttestationCertificate, now: Date): void {
  const from = certificate.x509.validFromDate;
  const to = certificate.x509.validToDate;
  if (now < from) throw chainError(`"${certificate.name}" is not valid before ${from.toISOString()}`);
  if (now > to) throw chainError(`"${certificate.name}" expired on ${to.toISOString()}`);
}

function sameCertificate(a: AttestationCertificate, b: AttestationCertificate): boolean {
  return Buffer.from(a.der).equals(b.der);
}

function chainError(message: string): JitcaError {
  return new JitcaError(ErrorCodes.ATTESTATION_CHAIN, `attestation chain: ${message}`);
}
