import { TagClass, UniversalTag, decodeDer, decodeObjectIdentifier, expectSequence, expectUniversal, type DerElement } from './der-reader.ts';

const OID_EXTENSION_REQUEST = '1.2.840.113549.1.9.14';

/**
 * The raw extnValue of each extension a CSR requests, by OID. parseCsr must have accepted the
 * request first (strict DER, one extensionRequest, no repeated extension); this only looks values
 * up, for readers of vendor extensions such as the YubiKey attestation certificates that
 * yubico-piv-tool embeds (requestedExtensions keeps no values: they would reach audit records).
 */
export function readCsrExtensionValues(csrDer: Uint8Array): Map<string, Uint8Array> {
  const [info] = expectSequence(decodeDer(csrDer), 'CertificationRequest', 3) as [DerElement];
  const attributes = info.children[3];
  const values = new Map<string, Uint8Array>();
  if (attributes === undefined || attributes.tagClass !== TagClass.context) return values;
  for (const attribute of attributes.children) {
    const [type, set] = expectSequence(attribute, 'Attribute', 2) as [DerElement, DerElement];
    if (decodeObjectIdentifier(type) !== OID_EXTENSION_REQUEST) continue;
    const [extensions] = set.children;
    if (extensions === undefined) continue;
    for (const extension of expectSequence(extensions, 'Extensions', 0, Number.POSITIVE_INFINITY)) {
      const parts = expectSequence(extension, 'Extension', 2, 3);
      const value = expectUniversal(parts[parts.length - 1] as DerElement, UniversalTag.octetString, 'extnValue');
      values.set(decodeObjectIdentifier(parts[0] as DerElement), value.content);
    }
  }
  return values;
}
