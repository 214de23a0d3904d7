import { ErrorCodes, JitcaError } from '../errors.ts';
import { parseCsr } from '../x509/csr.ts';
import { readCsrExtensionValues } from '../x509/csr-extension-values.ts';
import { readAttestationCertificate } from './attestation-certificate.ts';
import type { AttestationFacts } from './attestation-facts.ts';
import { assertGivenIsAttested, type GivenPublicKey } from './given-public-key.ts';
import { verifyPivAttestation } from './piv-attestation.ts';
import type { RootSet } from './root-set.ts';
import { YubicoPivOid } from './yubico-piv-extensions.ts';

/**
 * A CSR made with a YubiKey slot key that carries its own attestation as requested extensions
 * (yubico-piv-tool and others: the slot certificate in .3.11, or .3.1 from older tools, the f9
 * certificate in .3.2). The CSR's self-signature must verify (parseCsr: ERR_CSR_*), so whoever
 * sent it holds the slot key; its key must be the attested key (ERR_ATTESTATION_KEY_MISMATCH); and
 * the attestation is verified as verifyPivAttestation does.
 */
export function verifyPivCsrAttestation(csr: string | Uint8Array, roots: RootSet, now: Date, expectedKey?: GivenPublicKey): AttestationFacts {
  const parsed = parseCsr(csr);
  const values = readCsrExtensionValues(parsed.der);
  const slot = values.get(YubicoPivOid.csrSlotCertificate) ?? values.get(YubicoPivOid.csrSlotCertificateLegacy);
  const f9 = values.get(YubicoPivOid.csrDeviceCertificate);
  if (slot === undefined || f9 === undefined) {
    throw new JitcaError(
      ErrorCodes.ATTESTATION_MALFORMED,
      'CSR carries no YubiKey attestation: it needs the slot certificate (extension 1.3.6.1.4.1.41482.3.11 or .3.1) and the f9 certificate (.3.2)',
    );
  }
  const facts = verifyPivAttestation(
    {
      slot: readAttestationCertificate(slot, 'CSR slot attestation certificate'),
      f9: readAttestationCertificate(f9, 'CSR f9 certificate'),
      expectedKey: { form: 'pem', publicKey: parsed.publicKey },
    },
    roots,
    now,
  );
  assertGivenIsAttested(expectedKey, parsed.publicKey, 'CSR key');
  return facts;
}
