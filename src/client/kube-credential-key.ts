import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { derElement, derSequence, objectIdentifierContent } from '../x509/der-writer.ts';
import { encodeSubjectName } from '../x509/distinguished-name.ts';
import { encodePem } from '../x509/pem.ts';

export interface KubeKeyAndCsr {
  /** PKCS#8 "PRIVATE KEY" PEM: what client-go's tls.X509KeyPair reads (it tries PKCS#1, PKCS#8, SEC1). */
  privateKeyPem: string;
  /** PKCS#10 "CERTIFICATE REQUEST" PEM, self-signed with the key above. */
  csrPem: string;
}

/** RFC 5758 §3.2: ecdsa-with-SHA256, parameters absent. */
const ECDSA_WITH_SHA256 = '1.2.840.10045.4.3.2';

/**
 * A fresh ECDSA P-256 key that never leaves this machine (the certificate is what expires), and a
 * CSR for it. The subject is a placeholder: the CA names the certificate after the authenticated
 * identity and its policy groups, whatever the request says.
 */
export function generateKubeKeyAndCsr(): KubeKeyAndCsr {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  return {
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    csrPem: encodePem('CERTIFICATE REQUEST', certificationRequest(privateKey, publicKey)),
  };
}

/** RFC 2986 §4: CertificationRequest ::= SEQUENCE { info, signatureAlgorithm, BIT STRING }. */
function certificationRequest(privateKey: KeyObject, publicKey: KeyObject): Uint8Array {
  const info = derSequence([
    derElement(0x02, new Uint8Array([0])), // version v1(0)
    encodeSubjectName({ commonName: 'jitca-kube-credential', organizations: [] }),
    new Uint8Array(publicKey.export({ type: 'spki', format: 'der' })),
    derElement(0xa0, new Uint8Array(0)), // attributes [0]: none (no requested extensions: the CA decides them)
  ]);
  // node signs ECDSA as a DER Ecdsa-Sig-Value by default, which is what X.509 carries (RFC 5758 §3.2).
  const signature = new Uint8Array(sign('sha256', info, privateKey));
  const bitString = new Uint8Array(signature.length + 1); // leading 0: no unused bits (X.690 §8.6.2.2)
  bitString.set(signature, 1);
  return derSequence([info, derSequence([derElement(0x06, objectIdentifierContent(ECDSA_WITH_SHA256))]), derElement(0x03, bitString)]);
}
