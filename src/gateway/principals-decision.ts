import { forwardAllowed, forwardDestinationFor } from './forward-port.ts';
import type { ParsedSshCertificate } from '../ssh/certificate-parse.ts';
import { sshFingerprint } from '../ssh/public-key.ts';

/**
 * What sshd hands `jitca gateway principals` (sshd_config AuthorizedPrincipalsCommand
 * "%u %i %s %F %k"): the account asked for and the certificate it already verified.
 */
export interface PrincipalsQuery {
  /** %u: the local account the client asked to log in as. */
  account: string;
  /** %i: the certificate's key ID, as sshd read it. */
  keyId: string;
  /** %s: the certificate's serial, decimal, as sshd read it. */
  serial: string;
  /** %F: fingerprint of the CA key that signed the certificate. */
  caFingerprint: string;
}

/** What the gateway host trusts, read from the files trust-sync keeps current. */
export interface GatewayTrust {
  /** Fingerprints (SHA256:...) of the CA generations in sshd's TrustedUserCAKeys file. */
  trustedCaFingerprints: ReadonlySet<string>;
  /** Revoked serials per CA fingerprint, from the KRL in sshd's RevokedKeys file. */
  revokedSerials: ReadonlyMap<string, ReadonlySet<bigint>>;
  /** Which certificate principals may log in as which local account. */
  accountPrincipals: ReadonlyMap<string, ReadonlySet<string>>;
  /** The policy's extension domain: a jitca grant carries role@ and approval@ this domain. */
  extensionDomain: string;
  /** The forced command, without its --serial argument (an absolute path and fixed words). */
  sessionCommand: string;
}

export type PrincipalsRule =
  | 'signature'
  | 'not-a-user-certificate'
  | 'sshd-mismatch'
  | 'ca-untrusted'
  | 'revoked'
  | 'not-yet-valid'
  | 'expired'
  | 'no-expiry'
  | 'unknown-critical-option'
  | 'not-a-jitca-grant'
  | 'principal-not-allowed';

export type PrincipalsVerdict =
  | { allow: true; lines: string[] }
  | { allow: false; rule: PrincipalsRule; reason: string };

/** Certificates valid "forever" (valid_before = 2^64 - 1) are never jitca's. */
const FOREVER = (1n << 64n) - 1n;

/**
 * Decides, purely, which authorized_principals lines sshd gets for a certificate. sshd has already
 * checked the CA signature against TrustedUserCAKeys and its own RevokedKeys; this checks again
 * against the same files (a stale or edited sshd_config must not widen access), binds what sshd
 * says (%s, %i, %F) to the certificate itself, and refuses anything that is not a live jitca grant.
 *
 * The lines carry the options sshd then enforces by itself: `restrict` (no forwarding, no agent,
 * no X11, no pty, no user rc), `pty` back only when the certificate permits it (sshd ANDs the
 * permissive flags of the certificate and this line, so adding a flag the certificate lacks would
 * be harmless but misleading), `expiry-time` at the certificate's valid_before, and a forced
 * command naming the serial sshd read, never anything the user supplied. A port-forward grant on
 * one pod also gets `port-forwarding` with a single `permitopen` (forward-port.ts).
 */
export function decidePrincipals(query: PrincipalsQuery, certificate: ParsedSshCertificate, trust: GatewayTrust, nowSeconds: bigint): PrincipalsVerdict {
  const refuse = (rule: PrincipalsRule, reason: string): PrincipalsVerdict => ({ allow: false, rule, reason });
  if (!certificate.signatureValid) return refuse('signature', 'the certificate signature does not verify');
  if (certificate.certType !== 'user') return refuse('not-a-user-certificate', 'a host certificate cannot log in');

  const caFingerprint = sshFingerprint(certificate.signatureKey.blob);
  if (caFingerprint !== query.caFingerprint || certificate.serial.toString() !== query.serial || certificate.keyId !== query.keyId) {
    return refuse('sshd-mismatch', 'the serial, key ID or CA sshd reported is not the certificate it passed');
  }
  if (!trust.trustedCaFingerprints.has(caFingerprint)) return refuse('ca-untrusted', `CA ${caFingerprint} is not in the trusted CA file`);
  if (trust.revokedSerials.get(caFingerprint)?.has(certificate.serial) === true) return refuse('revoked', `serial ${certificate.serial} is revoked`);

  if (nowSeconds < certificate.validAfter) return refuse('not-yet-valid', 'the certificate is not valid yet');
  if (certificate.validBefore === FOREVER) return refuse('no-expiry', 'a certificate without an expiry is not a jitca grant');
  if (nowSeconds >= certificate.validBefore) return refuse('expired', 'the certificate has expired');
  if (certificate.unrecognizedCriticalOptions.length > 0) {
    return refuse('unknown-critical-option', `unknown critical options: ${certificate.unrecognizedCriticalOptions.join(', ')}`);
  }

  const extensions = certificate.customExtensions;
  const role = extensions[`role@${trust.extensionDomain}`];
  const approval = extensions[`approval@${trust.extensionDomain}`];
  if (role === undefined || approval === undefined) {
    return refuse('not-a-jitca-grant', `the certificate carries no role@${trust.extensionDomain} and approval@${trust.extensionDomain}`);
  }

  const allowed = trust.accountPrincipals.get(query.account);
  const principals = certificate.principals.filter((principal) => allowed?.has(principal) === true);
  // An empty principal list means "any principal" to OpenSSH; jitca never issues one, and the
  // gateway must not read it as a match for every account.
  if (principals.length === 0) return refuse('principal-not-allowed', `no principal of the certificate may log in as ${query.account}`);

  const options = ['restrict', `expiry-time="${expiryTime(certificate.validBefore)}"`];
  if (certificate.extensions.includes('permit-pty')) options.push('pty');
  // Forwarding back only for a port-forward grant on one pod, and only to the one gateway-local
  // address its session's kubectl listens on (forward-port.ts); sshd refuses every other -L, and -R
  // stays off (the gateway's sshd_config allows local forwarding only).
  if (forwardAllowed(certificate.extensions, extensions, trust.extensionDomain)) {
    const destination = forwardDestinationFor(certificate.serial);
    options.push('port-forwarding', `permitopen="${destination.host}:${destination.port}"`);
  }
  options.push(`command="${trust.sessionCommand} --serial ${certificate.serial}"`);
  return { allow: true, lines: principals.map((principal) => `${options.join(',')} ${principal}`) };
}

/** sshd's expiry-time timespec in UTC: YYYYMMDDHHMMSSZ (sshd(8), AUTHORIZED_KEYS FILE FORMAT). */
function expiryTime(validBefore: bigint): string {
  const iso = new Date(Number(validBefore) * 1000).toISOString(); // 2026-12-04T19:24:54.000Z
  return `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}Z`;
}
