import { DER_TRUE, derContextPrimitive, derNamedBits, derObjectIdentifier, derOctetString, derSequence } from './der-writer.ts';
import { SCOPE_EXTENSION_OID, encodeScopeExtension, type CertificateScope } from './scope-extension.ts';

const OID_BASIC_CONSTRAINTS = '2.5.29.19';
const OID_KEY_USAGE = '2.5.29.15';
const OID_EXT_KEY_USAGE = '2.5.29.37';
const OID_SUBJECT_KEY_IDENTIFIER = '2.5.29.14';
const OID_AUTHORITY_KEY_IDENTIFIER = '2.5.29.35';
const OID_KP_CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';

/** KeyUsage named bits, RFC 5280 §4.2.1.3. */
const KeyUsageBit = { digitalSignature: 0, keyEncipherment: 2, keyCertSign: 5, cRLSign: 6 } as const;

export interface ClientExtensionOptions {
  subjectKeyIdentifier: Uint8Array;
  authorityKeyIdentifier: Uint8Array;
  /** Adds keyEncipherment to keyUsage (only meaningful for RSA keys: TLS 1.2 RSA key exchange). */
  keyEncipherment: boolean;
  scope?: CertificateScope;
}

/**
 * The complete extension list of a kubectl client certificate; nothing from the CSR is copied:
 * - basicConstraints CA:FALSE, critical (RFC 5280 §4.2.1.9; an empty SEQUENCE in DER);
 * - keyUsage digitalSignature (+ keyEncipherment on request), critical (§4.2.1.3);
 * - extKeyUsage clientAuth only (§4.2.1.12): never serverAuth, so it cannot serve TLS;
 * - subjectKeyIdentifier (§4.2.1.2) and authorityKeyIdentifier = the CA's SKI (§4.2.1.1);
 * - jitca's scope extension, not critical, when a scope is given; no issuing path gives one while
 *   its OID is one Go cannot parse (x509/scope-extension.ts).
 */
export function clientCertificateExtensions(options: ClientExtensionOptions): Uint8Array[] {
  const usage = options.keyEncipherment ? [KeyUsageBit.digitalSignature, KeyUsageBit.keyEncipherment] : [KeyUsageBit.digitalSignature];
  const extensions = [
    extension(OID_BASIC_CONSTRAINTS, true, derSequence([])),
    extension(OID_KEY_USAGE, true, derNamedBits(usage)),
    extension(OID_EXT_KEY_USAGE, false, derSequence([derObjectIdentifier(OID_KP_CLIENT_AUTH)])),
    extension(OID_SUBJECT_KEY_IDENTIFIER, false, derOctetString(options.subjectKeyIdentifier)),
    // AuthorityKeyIdentifier ::= SEQUENCE { keyIdentifier [0] IMPLICIT KeyIdentifier OPTIONAL, ... }
    extension(OID_AUTHORITY_KEY_IDENTIFIER, false, derSequence([derContextPrimitive(0, options.authorityKeyIdentifier)])),
  ];
  if (options.scope !== undefined) extensions.push(extension(SCOPE_EXTENSION_OID, false, encodeScopeExtension(options.scope)));
  return extensions;
}

/**
 * A CA certificate for Kubernetes client certificates: basicConstraints CA:TRUE pathLen 0 (it
 * signs end-entity certificates only), keyUsage keyCertSign + cRLSign, both critical (RFC 5280
 * §4.2.1.9, §4.2.1.3), and its subjectKeyIdentifier. Self-signed, so no authorityKeyIdentifier
 * (§4.2.1.1 allows omitting it there).
 */
export function caCertificateExtensions(subjectKeyIdentifier: Uint8Array): Uint8Array[] {
  return [
    // BasicConstraints ::= SEQUENCE { cA BOOLEAN DEFAULT FALSE, pathLenConstraint INTEGER OPTIONAL }
    extension(OID_BASIC_CONSTRAINTS, true, derSequence([DER_TRUE, Uint8Array.of(0x02, 0x01, 0x00)])),
    extension(OID_KEY_USAGE, true, derNamedBits([KeyUsageBit.keyCertSign, KeyUsageBit.cRLSign])),
    extension(OID_SUBJECT_KEY_IDENTIFIER, false, derOctetString(subjectKeyIdentifier)),
  ];
}

/** Extension ::= SEQUENCE { extnID, critical BOOLEAN DEFAULT FALSE, extnValue OCTET STRING } (§4.1). */
function extension(oid: string, critical: boolean, value: Uint8Array): Uint8Array {
  return derSequence([derObjectIdentifier(oid), ...(critical ? [DER_TRUE] : []), derOctetString(value)]);
}
