import type { AttestationCertificate } from './attestation-certificate.ts';

/**
 * The trust anchor of one kind of attestation: chains must end at one of `roots`. `intermediates`
 * are not trusted by themselves; they only fill gaps a device does not send (firmware 5.7.4+ PIV
 * chains run f9 -> "PIV Attestation A/B 1" -> "Intermediate A/B 1" -> "Attestation Root 1").
 */
export interface RootSet {
  roots: readonly AttestationCertificate[];
  intermediates: readonly AttestationCertificate[];
}

export interface AttestationTrust {
  piv: RootSet;
  fido: RootSet;
}

/** `base` with more roots and intermediates (an operator's own, or a vendor's jitca does not ship). */
export function extendRootSet(base: RootSet, extra: Partial<RootSet>): RootSet {
  return {
    roots: [...base.roots, ...(extra.roots ?? [])],
    intermediates: [...base.intermediates, ...(extra.intermediates ?? [])],
  };
}
