/**
 * Just enough DER (X.690) for the Kubernetes API double: read a PKCS#10 request far enough to check
 * its self-signature the way the apiserver does (Go's x509.ParseCertificateRequest + CheckSignature,
 * pkg/apis/certificates/validation validateCSR), and build small requests in process for benches.
 *
 * Deliberately independent of src/x509: the double is the oracle the controller is tested against,
 * so it must not share the parser under test.
 */
import { createPublicKey, generateKeyPairSync, sign as nodeSign, verify as nodeVerify, type KeyObject } from 'node:crypto';

interface Tlv {
  tag: number;
  /** The whole element, header included. */
  raw: Buffer;
  content: Buffer;
}

function readTlv(buffer: Buffer, offset: number): Tlv {
  const tag = buffer[offset];
  let lengthByte = buffer[offset + 1];
  if (tag === undefined || lengthByte === undefined) throw new Error('truncated DER');
  let length = 0;
  let header = 2;
  if (lengthByte < 0x80) {
    length = lengthByte;
  } else {
    const count = lengthByte & 0x7f;
    if (count === 0 || count > 4) throw new Error('unsupported DER length');
    for (let i = 0; i < count; i += 1) {
      lengthByte = buffer[offset + 2 + i];
      if (lengthByte === undefined) throw new Error('truncated DER length');
      length = length * 256 + lengthByte;
    }
    header += count;
  }
  const end = offset + header + length;
  if (end > buffer.length) throw new Error('DER element runs past the end');
  return { tag, raw: buffer.subarray(offset, end), content: buffer.subarray(offset + header, end) };
}

function children(element: Tlv): Tlv[] {
  const out: Tlv[] = [];
  for (let offset = 0; offset < element.content.length; ) {
    const child = readTlv(element.content, offset);
    out.push(child);
    offset += child.raw.length;
  }
  return out;
}

// AlgorithmIdentifier OIDs as DER content hex -> how Node verifies them.
const SIGNATURE_ALGORITHMS: Readonly<Record<string, { hash: string | null; ecdsa: boolean }>> = {
  '2b6570': { hash: null, ecdsa: false }, // Ed25519, RFC 8410
  '2a8648ce3d040302': { hash: 'sha256', ecdsa: true }, // ecdsa-with-SHA256, RFC 5758
  '2a8648ce3d040303': { hash: 'sha384', ecdsa: true },
  '2a8648ce3d040304': { hash: 'sha512', ecdsa: true },
  '2a864886f70d01010b': { hash: 'sha256', ecdsa: false }, // sha256WithRSAEncryption, RFC 8017
  '2a864886f70d01010c': { hash: 'sha384', ecdsa: false },
  '2a864886f70d01010d': { hash: 'sha512', ecdsa: false },
};

/**
 * certificates.ParseCSR: the first PEM block must be a "CERTIFICATE REQUEST"; then the request must
 * parse and its signature verify. Returns the reason it does not, like the apiserver's
 * "spec.request: Invalid value" text, or undefined when it is fine.
 */
export function checkCsrPem(pem: string): string | undefined {
  const block = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n([\s\S]*?)-----END \1-----/.exec(pem);
  if (block === null || block[1] !== 'CERTIFICATE REQUEST') return 'PEM block type must be CERTIFICATE REQUEST';
  try {
    const der = Buffer.from((block[2] ?? '').replace(/\s+/g, ''), 'base64');
    const root = readTlv(der, 0);
    if (root.tag !== 0x30 || root.raw.length !== der.length) return 'asn1: syntax error: not a single SEQUENCE';
    const [info, algorithm, signature] = children(root);
    if (info === undefined || algorithm === undefined || signature === undefined || signature.tag !== 0x03) {
      return 'x509: malformed certificate request';
    }
    const infoMembers = children(info);
    const spki = infoMembers[2];
    const oid = children(algorithm)[0];
    if (spki === undefined || oid === undefined || oid.tag !== 0x06) return 'x509: malformed certificate request';
    const scheme = SIGNATURE_ALGORITHMS[oid.content.toString('hex')];
    if (scheme === undefined) return 'x509: cannot verify signature: algorithm unimplemented';
    const key = createPublicKey({ key: spki.raw, format: 'der', type: 'spki' });
    const signatureBytes = signature.content.subarray(1); // leading "unused bits" octet
    const ok = nodeVerify(scheme.hash, info.raw, scheme.ecdsa ? { key, dsaEncoding: 'der' } : key, signatureBytes);
    return ok ? undefined : 'x509: ECDSA verification failure';
  } catch (error) {
    return `x509: malformed certificate request (${error instanceof Error ? error.message : 'unknown'})`;
  }
}

// --- building requests (benches and bulk tests; the named key-type tests use real `openssl req`) ---

function element(tag: number, content: Buffer): Buffer {
  const length = content.length;
  let header: Buffer;
  if (length < 0x80) header = Buffer.from([tag, length]);
  else if (length < 0x100) header = Buffer.from([tag, 0x81, length]);
  else header = Buffer.from([tag, 0x82, length >> 8, length & 0xff]);
  return Buffer.concat([header, content]);
}

const OID_CN = Buffer.from('550403', 'hex');
const OID_O = Buffer.from('55040a', 'hex');

function rdn(oid: Buffer, value: string): Buffer {
  return element(0x31, element(0x30, Buffer.concat([element(0x06, oid), element(0x0c, Buffer.from(value, 'utf8'))])));
}

export interface BuiltCsr {
  pem: string;
  privateKey: KeyObject;
}

/** An Ed25519 PKCS#10 request for CN=commonName, O=each organization, signed with a fresh key (or the one given). */
export function buildEd25519Csr(commonName: string, organizations: readonly string[] = [], key?: KeyObject): BuiltCsr {
  const { privateKey, publicKey } = key === undefined ? generateKeyPairSync('ed25519') : { privateKey: key, publicKey: createPublicKey(key) };
  const name = element(0x30, Buffer.concat([rdn(OID_CN, commonName), ...organizations.map((o) => rdn(OID_O, o))]));
  const spki = publicKey.export({ format: 'der', type: 'spki' });
  const info = element(0x30, Buffer.concat([element(0x02, Buffer.from([0])), name, spki, Buffer.from([0xa0, 0x00])]));
  const signature = nodeSign(null, info, privateKey);
  const algorithm = element(0x30, element(0x06, Buffer.from('2b6570', 'hex')));
  const der = element(0x30, Buffer.concat([info, algorithm, element(0x03, Buffer.concat([Buffer.from([0]), signature]))]));
  const body = der.toString('base64').replace(/.{1,64}/g, '$&\n');
  return { pem: `-----BEGIN CERTIFICATE REQUEST-----\n${body}-----END CERTIFICATE REQUEST-----\n`, privateKey };
}
