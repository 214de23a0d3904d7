import { readFileSync } from 'node:fs';
import { ErrorCodes, JitcaError } from '../errors.ts';
import { readShippedText } from '../single-executable.ts';
import { readCertificateBundle } from './attestation-certificate.ts';
import { extendRootSet, type AttestationTrust, type RootSet } from './root-set.ts';

/** The files in ./roots (provenance in roots/PROVENANCE.md) and which set each belongs to. */
const FILES = {
  pivRoots: ['yubico-piv-root-ca-263751.pem', 'yubico-u2f-root-ca-457200631.pem', 'yubico-attestation-root-1.pem'],
  pivIntermediates: [
    'yubico-attestation-intermediate-a-1.pem',
    'yubico-attestation-intermediate-b-1.pem',
    'yubico-piv-attestation-a-1.pem',
    'yubico-piv-attestation-b-1.pem',
  ],
  fidoRoots: ['yubico-u2f-root-ca-457200631.pem', 'yubico-attestation-root-1.pem'],
  fidoIntermediates: ['yubico-attestation-intermediate-a-1.pem', 'yubico-attestation-intermediate-b-1.pem'],
} as const;

let shipped: AttestationTrust | undefined;

/**
 * The Yubico roots and intermediates jitca ships: PIV chains end at the PIV root, the U2F root
 * (2018-era YubiKey 4) or Attestation Root 1 (firmware 5.7.4+); FIDO attestations at the U2F
 * root or Attestation Root 1. Read once from the files next to this module.
 */
export function shippedAttestationTrust(): AttestationTrust {
  shipped ??= {
    piv: { roots: load(FILES.pivRoots), intermediates: load(FILES.pivIntermediates) },
    fido: { roots: load(FILES.fidoRoots), intermediates: load(FILES.fidoIntermediates) },
  };
  return shipped;
}

/** PEM files an operator adds to the shipped sets (a vendor jitca does not ship, a test CA). */
export interface ExtraAttestationFiles {
  pivRoots?: readonly string[];
  pivIntermediates?: readonly string[];
  fidoRoots?: readonly string[];
  fidoIntermediates?: readonly string[];
}

/** The shipped trust plus the operator's files: what the local command and enrollment verify against. */
export function loadAttestationTrust(extra: ExtraAttestationFiles = {}): AttestationTrust {
  const shippedTrust = shippedAttestationTrust();
  return {
    piv: extendRootSet(shippedTrust.piv, { roots: loadCertificateFiles(extra.pivRoots), intermediates: loadCertificateFiles(extra.pivIntermediates) }),
    fido: extendRootSet(shippedTrust.fido, { roots: loadCertificateFiles(extra.fidoRoots), intermediates: loadCertificateFiles(extra.fidoIntermediates) }),
  };
}

/** Certificates from PEM files; an unreadable file is ERR_CONFIG_INVALID, a bad one ERR_ATTESTATION_MALFORMED, both naming it. */
function loadCertificateFiles(paths: readonly string[] = []): RootSet['roots'] {
  return paths.flatMap((path) => {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (error) {
      throw new JitcaError(ErrorCodes.CONFIG_INVALID, `cannot read attestation certificate file ${path} (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
    }
    return readCertificateBundle(text, path);
  });
}

function load(names: readonly string[]): RootSet['roots'] {
  return names.flatMap((name) => readCertificateBundle(readShippedText(`attestation/roots/${name}`, () => new URL(`./roots/${name}`, import.meta.url)), name));
}
