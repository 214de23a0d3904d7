import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import {
  AuthorityKeyIdentifier,
  BasicConstraints,
  ExtendedKeyUsage,
  Extension,
  KeyIdentifier,
  KeyUsage,
  KeyUsageFlags,
  SubjectKeyIdentifier,
  id_ce_authorityKeyIdentifier,
  id_ce_basicConstraints,
  id_ce_extKeyUsage,
  id_ce_keyUsage,
  id_ce_subjectKeyIdentifier,
  id_kp_clientAuth,
} from '@peculiar/asn1-x509';
import { SCOPE_EXTENSION_OID, encodeScopeExtension, type CertificateScope } from './scope-extension.ts';

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
 * - jitca's scope extension, not critical, when a scope is given.
 */
export function clientCertificateExtensions(options: ClientExtensionOptions): Extension[] {
  const usage = KeyUsageFlags.digitalSignature | (options.keyEncipherment ? KeyUsageFlags.keyEncipherment : 0);
  const extensions = [
    extension(id_ce_basicConstraints, true, AsnConvert.serialize(new BasicConstraints({ cA: false }))),
    extension(id_ce_keyUsage, true, AsnConvert.serialize(new KeyUsage(usage))),
    extension(id_ce_extKeyUsage, false, AsnConvert.serialize(new ExtendedKeyUsage([id_kp_clientAuth]))),
    extension(id_ce_subjectKeyIdentifier, false, AsnConvert.serialize(new SubjectKeyIdentifier(toArrayBuffer(options.subjectKeyIdentifier)))),
    extension(
      id_ce_authorityKeyIdentifier,
      false,
      AsnConvert.serialize(new AuthorityKeyIdentifier({ keyIdentifier: new KeyIdentifier(toArrayBuffer(options.authorityKeyIdentifier)) })),
    ),
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
export function caCertificateExtensions(subjectKeyIdentifier: Uint8Array): Extension[] {
  return [
    extension(id_ce_basicConstraints, true, AsnConvert.serialize(new BasicConstraints({ cA: true, pathLenConstraint: 0 }))),
    extension(id_ce_keyUsage, true, AsnConvert.serialize(new KeyUsage(KeyUsageFlags.keyCertSign | KeyUsageFlags.cRLSign))),
    extension(id_ce_subjectKeyIdentifier, false, AsnConvert.serialize(new SubjectKeyIdentifier(toArrayBuffer(subjectKeyIdentifier)))),
  ];
}

function extension(oid: string, critical: boolean, value: ArrayBuffer | Uint8Array): Extension {
  return new Extension({ extnID: oid, critical, extnValue: new OctetString(value) });
}

function toArrayBuffer(bytes: Uint8Array): ArrayBuffer {
  return bytes.slice().buffer;
}
