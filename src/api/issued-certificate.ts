import type { Store, StoredCertificate, StoredRequest, StoredRevocation } from '../store/types.ts';

/** An issued request's certificate with its revocation, if any: what its view says of them (request-view.ts). */
export interface IssuedCertificate {
  certificate: StoredCertificate;
  revocation?: StoredRevocation;
}

/**
 * Reads an issued request's certificate and revocation (two primary-key reads), so that the
 * request list can say whether it still holds, not only its serial. Undefined for a request that
 * issued nothing, or whose certificate row is gone (retention removes both together).
 */
export async function issuedCertificateOf(store: Store, stored: StoredRequest): Promise<IssuedCertificate | undefined> {
  const serial = stored.decision['serial'];
  if (stored.state !== 'issued' || typeof serial !== 'string') return undefined;
  const certificate = await store.findCertificateBySerial(serial);
  if (certificate === undefined) return undefined;
  const revocation = await store.findRevocation(serial);
  return revocation === undefined ? { certificate } : { certificate, revocation };
}
