/**
 * Fuzz targets for the X.509 readers: the strict DER reader and PKCS#10 requests (PEM and DER).
 * Seeds are requests made by the real openssl (Ed25519, P-256, P-384, RSA, with and without
 * requested extensions) and an openssl certificate; structure-aware inputs are requests assembled
 * from random names and attributes and properly signed, so they get through to the key and
 * signature checks, and random DER trees.
 */
import { generateKeyPairSync, sign as nodeSign, type KeyObject } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import { parseCsr, type ParsedCsr } from '../../src/x509/csr.ts';
import { DerError, TagClass, decodeDer, type DerElement } from '../../src/x509/der-reader.ts';
import { derBitStringBytes, derElement, derObjectIdentifier, derSequence, concatBytes } from '../../src/x509/der-writer.ts';
import { encodePem } from '../../src/x509/pem.ts';
import { OpensslWorkspace, opensslOk, pemToDer } from '../x509/openssl.ts';
import { mutatedBytes, mutatedText } from './mutate.ts';
import { OracleFailure, expectSame, hex, type FuzzTarget } from './run.ts';

export interface X509Seeds {
  csrPems: string[];
  ders: Uint8Array[];
}

export function x509Seeds(): X509Seeds {
  const work = new OpensslWorkspace();
  try {
    const requests: Array<[Parameters<OpensslWorkspace['key']>[0], string, string[]]> = [
      ['ed25519', '/CN=alice/O=oncall-payments', []],
      ['p256', '/CN=alice/O=oncall-payments/O=sre', ['subjectAltName=DNS:kubernetes.default,URI:spiffe://prod/ns/payments/sa/admin']],
      ['p384', '/CN=sam/OU=ops/C=DE', ['basicConstraints=critical,CA:TRUE', 'keyUsage=digitalSignature,keyCertSign']],
      ['rsa2048', '/CN=bob/emailAddress=bob@example.com', ['extendedKeyUsage=clientAuth,serverAuth']],
    ];
    const csrPems = requests.map(([kind, subject, extensions]) => work.csr(work.key(kind), subject, extensions));
    const certificate = work.file('self.pem');
    opensslOk(['req', '-x509', '-new', '-key', work.key('ed25519'), '-subj', '/CN=jitca test', '-days', '1', '-addext', 'subjectAltName=DNS:a.example', '-out', certificate]);
    const certificateDer = pemToDer(opensslOk(['x509', '-in', certificate]));
    return { csrPems, ders: [...csrPems.map(pemToDer), certificateDer] };
  } finally {
    work.cleanup();
  }
}

/** The element written again from what the reader kept: tag, and content or children. */
function reencode(element: DerElement): Uint8Array {
  const identifier = (element.tagClass << 6) | (element.constructed ? 0x20 : 0) | element.tagNumber;
  return derElement(identifier, element.constructed ? concatBytes(element.children.map(reencode)) : element.content);
}

const primitive = fc.oneof(
  fc.tuple(fc.constantFrom(0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x0c, 0x13, 0x16, 0x17, 0x18, 0x80, 0x81, 0x86), fc.uint8Array({ maxLength: 12 })),
  fc.tuple(fc.constant(0x02), fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }).map(twosComplement)),
  fc.tuple(fc.constant(0x01), fc.constantFrom(Uint8Array.of(0), Uint8Array.of(0xff))),
  fc.tuple(fc.constant(0x06), fc.constantFrom('2.5.4.3', '1.2.840.113549.1.1.11', '2.25.329800735698586629295641978511506172918').map((oid) => derObjectIdentifier(oid).subarray(2))),
);

/** Random DER trees: SEQUENCE, SET and context-tagged nodes over primitive leaves. */
const derTree: fc.Arbitrary<Uint8Array> = fc.letrec<{ node: Uint8Array }>((tie) => ({
  node: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    primitive.map(([identifier, content]) => derElement(identifier, content)),
    fc.tuple(fc.constantFrom(0x30, 0x31, 0xa0, 0xa3), fc.array(tie('node'), { maxLength: 4 })).map(([identifier, children]) => derElement(identifier, concatBytes(children))),
  ),
})).node;

function twosComplement(value: bigint): Uint8Array {
  let hexDigits = (value < 0n ? (1n << BigInt(Math.max(8, (-value).toString(2).length + 1) + 8)) + value : value).toString(16);
  if (hexDigits.length % 2 === 1) hexDigits = `0${hexDigits}`;
  let bytes = Uint8Array.from(Buffer.from(hexDigits, 'hex'));
  if (value >= 0n && (bytes[0] ?? 0) >= 0x80) bytes = Uint8Array.from([0, ...bytes]);
  while (bytes.length > 1 && ((bytes[0] === 0 && (bytes[1] ?? 0) < 0x80) || (bytes[0] === 0xff && (bytes[1] ?? 0) >= 0x80))) bytes = bytes.subarray(1);
  return bytes;
}

export function derTarget(seeds: X509Seeds): FuzzTarget<Uint8Array> {
  return {
    name: 'DER reader',
    input: fc.oneof({ weight: 3, arbitrary: mutatedBytes(seeds.ders) }, { weight: 2, arbitrary: derTree }),
    check(bytes) {
      expectSame('DER', reencode(decodeDer(bytes)), bytes);
      return true;
    },
    // The reader's own refusal; its callers wrap it in a JitcaError with their code.
    isRefusal: (error) => error instanceof DerError,
    show: (bytes) => hex(bytes),
  };
}

interface SigningKey {
  spki: Uint8Array;
  privateKey: KeyObject;
  algorithm: Uint8Array;
  hash: string | null;
}

function signingKeys(): SigningKey[] {
  const ed25519 = generateKeyPairSync('ed25519');
  const p256 = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const spki = (key: KeyObject): Uint8Array => new Uint8Array(key.export({ format: 'der', type: 'spki' }));
  return [
    { spki: spki(ed25519.publicKey), privateKey: ed25519.privateKey, algorithm: derSequence([derObjectIdentifier('1.3.101.112')]), hash: null },
    { spki: spki(p256.publicKey), privateKey: p256.privateKey, algorithm: derSequence([derObjectIdentifier('1.2.840.10045.4.3.2')]), hash: 'sha256' },
  ];
}

const NAME_TYPES = ['2.5.4.3', '2.5.4.10', '2.5.4.11', '2.5.4.6', '1.2.840.113549.1.9.1', '0.9.2342.19200300.100.1.25', '2.5.4.5'];

/** A request from random names and attributes, signed with a real key. */
function structuredCsr(keys: SigningKey[]): fc.Arbitrary<Uint8Array> {
  const attributeValue = fc.tuple(fc.constantFrom(0x0c, 0x13, 0x16, 0x14, 0x1e), fc.oneof(fc.constantFrom('alice', 'system:masters', 'jit:oncall:payments', ''), fc.string({ maxLength: 12 })));
  const rdn = fc
    .tuple(fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...NAME_TYPES) }, { weight: 1, arbitrary: fc.constantFrom('2.5.4.65', '1.3.6.1.4.1.99999.1') }), fc.array(attributeValue, { minLength: 1, maxLength: 2 }))
    .map(([type, values]) =>
      derElement(0x31, concatBytes(values.map(([tag, text]) => derSequence([derObjectIdentifier(type), derElement(tag, Uint8Array.from(Buffer.from(text, 'utf8')))])))),
    );
  const extensionRequest = fc
    .array(fc.tuple(fc.constantFrom('2.5.29.17', '2.5.29.19', '2.5.29.15', '2.5.29.37', '1.2.3.4'), fc.boolean(), fc.uint8Array({ maxLength: 10 })), { maxLength: 3 })
    .map((extensions) =>
      derSequence([
        derObjectIdentifier('1.2.840.113549.1.9.14'),
        derElement(0x31, derSequence(extensions.map(([oid, critical, value]) => derSequence([derObjectIdentifier(oid), ...(critical ? [Uint8Array.of(1, 1, 0xff)] : []), derElement(0x04, value)])))),
      ]),
    );
  return fc
    .record({ key: fc.constantFrom(...keys), rdns: fc.array(rdn, { maxLength: 4 }), attributes: fc.array(extensionRequest, { maxLength: 2 }), version: fc.constantFrom(0, 0, 0, 1) })
    .map(({ key, rdns, attributes, version }) => {
      const info = derSequence([derElement(0x02, Uint8Array.of(version)), derSequence(rdns), key.spki, derElement(0xa0, concatBytes(attributes))]);
      const signature = new Uint8Array(nodeSign(key.hash, info, key.hash === null ? key.privateKey : { key: key.privateKey, dsaEncoding: 'der' }));
      return derSequence([info, key.algorithm, derBitStringBytes(signature)]);
    });
}

/** What parseCsr reports, without the KeyObject (compared through its SPKI bytes). */
function view(csr: ParsedCsr): unknown {
  const { publicKey: _publicKey, ...rest } = csr;
  return rest;
}

export function csrTarget(seeds: X509Seeds): FuzzTarget<string | Uint8Array> {
  const keys = signingKeys();
  return {
    name: 'PKCS#10 CSR',
    input: fc.oneof(
      { weight: 3, arbitrary: mutatedBytes(seeds.csrPems.map(pemToDer)) },
      { weight: 2, arbitrary: mutatedText(seeds.csrPems) },
      { weight: 3, arbitrary: structuredCsr(keys) },
      { weight: 1, arbitrary: structuredCsr(keys).map((der) => encodePem('CERTIFICATE REQUEST', der)) },
    ),
    check(input) {
      const parsed = parseCsr(input);
      expectSame('CSR DER', reencode(decodeDer(parsed.der)), parsed.der);
      if (typeof input !== 'string' && input[0] === 0x30) expectSame('CSR', parsed.der, input);
      // PEM has many spellings of one request: written as PEM again it must be the same request.
      const again = parseCsr(encodePem('CERTIFICATE REQUEST', parsed.der));
      if (!isDeepStrictEqual(view(again), view(parsed))) throw new OracleFailure('CSR reads differently when written again as PEM');
      return true;
    },
    show: (input) => (typeof input === 'string' ? `pem:${JSON.stringify(input)}` : `bytes:${hex(input)}`),
  };
}
