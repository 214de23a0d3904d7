/**
 * Ed25519 public keys nobody holds the private half of, and requests carrying them: the SSH key
 * line, the sk-* variant, and a PKCS#10 request with the one signature that verifies for the
 * identity key under cofactorless verification (R = base point, S = 1).
 */
import { SshWriter } from '../../src/ssh/wire.ts';
import { encodePem } from '../../src/x509/pem.ts';
import { derBitStringBytes, derElement, derObjectIdentifier, derSequence, derUtf8String } from '../../src/x509/der-writer.ts';

const hex = (value: string): Uint8Array => Uint8Array.from(Buffer.from(value, 'hex'));

/**
 * The eight points of order dividing 8, canonically encoded: libsodium's small-order blocklist
 * (crypto_core/ed25519/ref10.c, has_small_order) with both signs of x where x ≠ 0, the set the
 * "Taming the many EdDSAs" vectors and C2SP/CCTV ed25519vectors.json ("low_order") use.
 */
export const SMALL_ORDER_ENCODINGS: readonly string[] = [
  '0100000000000000000000000000000000000000000000000000000000000000', // identity, y = 1
  'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f', // order 2, y = p - 1
  '0000000000000000000000000000000000000000000000000000000000000000', // order 4, y = 0
  '0000000000000000000000000000000000000000000000000000000000000080', // order 4, y = 0, x negative
  '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05', // order 8
  '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85', // order 8
  'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a', // order 8
  'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa', // order 8
];

/** Every small-order point, then y = p and y = p + 1 (the order-4 points and the identity spelled again). */
export const WEAK_ED25519_KEYS: ReadonlyArray<{ name: string; key: Uint8Array }> = [
  ...SMALL_ORDER_ENCODINGS.map((encoding) => ({ name: `small-order ${encoding.slice(0, 8)}…${encoding.slice(-2)}`, key: hex(encoding) })),
  { name: 'y = p', key: hex('edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f') },
  { name: 'y = p + 1', key: hex('eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f') },
  { name: 'x = 0 with the sign bit (y = 1)', key: hex('0100000000000000000000000000000000000000000000000000000000000080') },
];

export const IDENTITY_KEY = hex(SMALL_ORDER_ENCODINGS[0] ?? '');
const BASE_POINT = hex('5866666666666666666666666666666666666666666666666666666666666666');

/** R = B, S = 1: verifies for every message under the identity key when checked without the cofactor. */
export const IDENTITY_KEY_SIGNATURE = Uint8Array.from([...BASE_POINT, 1, ...new Uint8Array(31)]);

export function ed25519KeyLine(key: Uint8Array): string {
  const blob = new SshWriter().writeString('ssh-ed25519').writeString(key).toBytes();
  return `ssh-ed25519 ${Buffer.from(blob).toString('base64')} weak`;
}

export function skEd25519KeyLine(key: Uint8Array, application = 'ssh:'): string {
  const blob = new SshWriter().writeString('sk-ssh-ed25519@openssh.com').writeString(key).writeString(application).toBytes();
  return `sk-ssh-ed25519@openssh.com ${Buffer.from(blob).toString('base64')} weak`;
}

/** A strict-DER PKCS#10 request for `key` (RFC 2986, RFC 8410), signed with IDENTITY_KEY_SIGNATURE. */
export function ed25519CsrPem(key: Uint8Array, commonName: string, organization?: string): string {
  const ED25519 = derSequence([derObjectIdentifier('1.3.101.112')]);
  const rdn = (oid: string, value: string): Uint8Array => derElement(0x31, derSequence([derObjectIdentifier(oid), derUtf8String(value)]));
  const subject = derSequence([
    ...(organization === undefined ? [] : [rdn('2.5.4.10', organization)]),
    rdn('2.5.4.3', commonName),
  ]);
  const info = derSequence([
    derElement(0x02, Uint8Array.of(0)), // version v1
    subject,
    derSequence([ED25519, derBitStringBytes(key)]),
    derElement(0xa0, new Uint8Array(0)), // no attributes
  ]);
  return encodePem('CERTIFICATE REQUEST', derSequence([info, ED25519, derBitStringBytes(IDENTITY_KEY_SIGNATURE)]));
}
