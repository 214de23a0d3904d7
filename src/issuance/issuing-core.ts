/**
 * The issuing core (docs/architecture.md): every certificate jitca signs — an SSH user certificate,
 * an X.509 client certificate for the API or for a Kubernetes CSR — is made here, in one order:
 * template -> sign with the active CA generation -> check the signature -> record the certificate
 * row with its audit record in one transaction, and only then hand it out.
 *
 * It decides nothing (decide, then act). The policy Decision was made before the
 * core is called and every value of the certificate comes from it; what is left here is the
 * mechanics every path shares: one validity rule, one serial-retry loop, one fingerprint.
 */
import { createHash, type X509Certificate } from 'node:crypto';
import type { Signer } from '../keys/signer.ts';
import { ErrorCodes, isJitcaError } from '../errors.ts';
import type { DecisionEntry, Store } from '../store/types.ts';
import { randomSerial } from './serial.ts';

/** One CA generation, as far as signing needs it: its key (and, for X.509, its certificate). */
export interface SigningCa {
  readonly signer: Signer;
}

/** An X.509 CA generation: the key and the certificate that names it as issuer. */
export interface X509SigningCa extends SigningCa {
  readonly certificate: X509Certificate | Uint8Array;
}

/**
 * The generation that signs now. Asked for once per certificate, never held: a rotation that
 * makes another generation active applies to the next certificate without a restart.
 */
export type ActiveCa<Ca extends SigningCa> = () => Ca;

export interface Validity {
  notBefore: Date;
  notAfter: Date;
}

/**
 * The one validity rule: whole seconds (neither certificate format carries fractions, so the row
 * and the reply say what the certificate says), backdated for clock skew between jitca and the
 * relying party (sshd, the apiserver), for the granted lifetime counted from now.
 */
export function validityWindow(nowMs: number, backdateSeconds: number, lifetimeSeconds: number): Validity {
  const nowSeconds = Math.floor(nowMs / 1000);
  return { notBefore: new Date((nowSeconds - backdateSeconds) * 1000), notAfter: new Date((nowSeconds + lifetimeSeconds) * 1000) };
}

/** The certificate row's key fingerprint for an X.509 key: SHA256:base64 of the SPKI, as for SSH keys. */
export function spkiFingerprint(spki: Uint8Array): string {
  return `SHA256:${createHash('sha256').update(spki).digest('base64').replace(/=+$/, '')}`;
}

/** What a signing path contributes: how to make its certificate, and how to record it. */
export interface CertificateTemplate<Ca extends SigningCa, Signed> {
  /**
   * Builds the certificate with this serial and signs it with `ca`. The codecs check the CA's
   * signature under its public key before they return (src/ssh signAsSsh, src/x509
   * signCertificate): a token that returns a wrong signature issues nothing (ERR_HSM_FAILURE).
   */
  sign(ca: Ca, serial: bigint): Promise<Signed>;
  /** The request row, certificate row and audit record of the signed certificate, written in one transaction. */
  record(signed: Signed, serial: string, ca: Ca): DecisionEntry;
}

export interface Issued<Ca extends SigningCa, Signed> {
  signed: Signed;
  /** Decimal serial, as recorded. */
  serial: string;
  /** The generation that signed it. */
  ca: Ca;
}

/** A 64-bit collision is astronomically rare; more than a few in a row means something is wrong. */
const SERIAL_ATTEMPTS = 4;

/**
 * Signs and records with a fresh random serial; on a serial already recorded (ERR_STORE_CONFLICT)
 * it signs again with another, a few times. Nothing leaves before its record committed.
 */
export async function issueCertificate<Ca extends SigningCa, Signed>(
  store: Store,
  activeCa: ActiveCa<Ca>,
  template: CertificateTemplate<Ca, Signed>,
): Promise<Issued<Ca, Signed>> {
  const ca = activeCa();
  for (let attempt = 1; ; attempt++) {
    const issued = await signAndRecord(store, ca, template, randomSerial(), attempt >= SERIAL_ATTEMPTS);
    if (issued !== undefined) return issued;
  }
}

/**
 * Signs and records with a serial chosen and recorded earlier (the CSR controller's claim): one
 * attempt. Undefined when a certificate is already recorded under that serial, i.e. another
 * instance carried out the same claim first: this one was neither recorded nor released.
 */
export function issueCertificateWithSerial<Ca extends SigningCa, Signed>(
  store: Store,
  activeCa: ActiveCa<Ca>,
  template: CertificateTemplate<Ca, Signed>,
  serial: bigint,
): Promise<Issued<Ca, Signed> | undefined> {
  return signAndRecord(store, activeCa(), template, serial, false);
}

async function signAndRecord<Ca extends SigningCa, Signed>(
  store: Store,
  ca: Ca,
  template: CertificateTemplate<Ca, Signed>,
  serial: bigint,
  conflictIsFinal: boolean,
): Promise<Issued<Ca, Signed> | undefined> {
  const signed = await template.sign(ca, serial);
  const serialText = serial.toString();
  try {
    await store.recordDecision(template.record(signed, serialText, ca));
  } catch (error) {
    if (isJitcaError(error, ErrorCodes.STORE_CONFLICT) && !conflictIsFinal) return undefined;
    throw error;
  }
  return { signed, serial: serialText, ca };
}
