/**
 * What an attestation verifier established about a key, in one shape for PIV and FIDO, so the
 * enrollment record, the policy rules that require hardware, and `jitca attestation verify`
 * read the same facts. Verifiers (src/attestation/) are pure: bytes and a root set in, facts or a
 * JitcaError out; they neither store nor log.
 */

export type AttestationKind = 'piv' | 'fido';

/** yubikit/piv.py PIN_POLICY; the Bio values (matchOnce, matchAlways) come after always. */
export type PivPinPolicy = 'default' | 'never' | 'once' | 'always' | 'match-once' | 'match-always';
/** yubikit/piv.py TOUCH_POLICY. */
export type PivTouchPolicy = 'default' | 'never' | 'always' | 'cached';

export interface AttestationFacts {
  kind: AttestationKind;
  /** False only for a FIDO attestation of format "none": recorded, never treated as attested. */
  attested: boolean;
  /** Subject of the root certificate the chain verified to (absent when not attested). */
  root?: string;
  /** Device serial (PIV .3.7); FIDO attestation certificates carry none. */
  serial?: number;
  /** Firmware as "major.minor.patch" (PIV .3.3). */
  firmware?: string;
  pinPolicy?: PivPinPolicy;
  touchPolicy?: PivTouchPolicy;
  /** PIV .3.9 form factor by name, e.g. "usb-c-nano", with fips/cspn flags. */
  formFactor?: { name: string; fips: boolean; cspn: boolean };
  /** FIDO authenticator-data flags. */
  flags?: { up: boolean; uv: boolean };
  /** The attested public key as an OpenSSH authorized_keys line (no comment). */
  publicKey: string;
}
