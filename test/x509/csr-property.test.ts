import { generateKeyPairSync, sign } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isJitcaError } from '../../src/errors.ts';
import { parseCsr } from '../../src/x509/csr.ts';
import { concatBytes, derElement, derSequence, objectIdentifierContent } from '../../src/x509/der-writer.ts';
import { OpensslWorkspace, derToPem, pemToDer } from './openssl.ts';

let work: OpensslWorkspace;
const valid: Uint8Array[] = [];

beforeAll(() => {
  work = new OpensslWorkspace();
  for (const kind of ['ed25519', 'p256'] as const) {
    valid.push(pemToDer(work.csr(work.key(kind), '/CN=alice/O=oncall-payments', ['subjectAltName=DNS:a.example', 'extendedKeyUsage=clientAuth'])));
  }
});

afterAll(() => work?.cleanup());

/** parseCsr either returns or throws a JitcaError; anything else (TypeError, RangeError, asn1js errors) is a bug. */
function outcome(input: string | Uint8Array): 'accepted' | string {
  try {
    parseCsr(input);
    return 'accepted';
  } catch (error) {
    if (isJitcaError(error)) return error.code;
    throw error;
  }
}

describe('parseCsr on hostile input', () => {
  it('random bytes only ever throw JitcaError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 3000 }), (bytes) => {
        expect(outcome(bytes)).not.toBe('accepted');
      }),
      { numRuns: 2000 },
    );
  });

  it('random DER-looking bytes (a SEQUENCE header first) only ever throw JitcaError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), fc.integer({ min: 0, max: 0xff }), (body, lengthByte) => {
        expect(outcome(Uint8Array.from([0x30, lengthByte, ...body]))).not.toBe('accepted');
      }),
      { numRuns: 2000 },
    );
  });

  it('random text and random base64 inside a PEM frame only ever throw JitcaError', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 2000 }), fc.uint8Array({ maxLength: 1500 }), (text, bytes) => {
        expect(outcome(text)).not.toBe('accepted');
        expect(outcome(derToPem('CERTIFICATE REQUEST', bytes))).not.toBe('accepted');
      }),
      { numRuns: 1000 },
    );
  });

  it('every change of one byte in a valid signed request is refused, never accepted and never a crash', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: valid.length - 1 }),
        fc.nat(),
        fc.integer({ min: 1, max: 0xff }),
        (which, position, xor) => {
          const original = valid[which] ?? new Uint8Array(0);
          const mutated = original.slice();
          const index = position % mutated.length;
          mutated[index] = (mutated[index] ?? 0) ^ xor;
          expect(outcome(mutated)).not.toBe('accepted');
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('every truncation of a valid request is refused', () => {
    for (const original of valid) {
      expect(outcome(original)).toBe('accepted');
      for (let length = 0; length < original.length; length += 1) {
        expect(outcome(original.subarray(0, length))).not.toBe('accepted');
      }
    }
  });
});

/**
 * Structure-aware: well-formed, correctly self-signed requests whose subject and attributes are
 * random (string types, OIDs, extension values), so the subject, attribute and extension readers
 * see input that passes the signature. Each is accepted or refused with a
 * JitcaError; when accepted, the subject read back is the one encoded.
 */
describe('parseCsr on signed requests with random contents', () => {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const spki = new Uint8Array(publicKey.export({ format: 'der', type: 'spki' }));
  const oid = (value: string): Uint8Array => derElement(0x06, objectIdentifierContent(value));
  const set = (members: Uint8Array[]): Uint8Array => derElement(0x31, concatBytes(members));

  const stringTag = fc.constantFrom(0x0c, 0x13, 0x16, 0x1e, 0x14, 0x1a, 0x12, 0x1c, 0x04, 0x30);
  const attributeType = fc.constantFrom('2.5.4.3', '2.5.4.10', '2.5.4.11', '2.5.4.6', '1.2.840.113549.1.9.1', '1.3.6.1.4.1.99999.1');
  const text = fc.oneof(fc.string({ maxLength: 20 }), fc.uint8Array({ maxLength: 20 }).map((bytes) => Buffer.from(bytes).toString('latin1')));
  const atv = fc.record({ type: attributeType, tag: stringTag, value: text, raw: fc.boolean() }).map(({ type, tag, value, raw }) => ({
    type,
    tag,
    value,
    der: derSequence([oid(type), derElement(tag, raw ? Buffer.from(value, 'latin1') : Buffer.from(value, 'utf8'))]),
    raw,
  }));
  const rdn = fc.array(atv, { minLength: 1, maxLength: 2 });
  const extensionValue = fc.oneof(
    fc.uint8Array({ maxLength: 30 }),
    fc.constantFrom(
      Uint8Array.from(Buffer.from('30030101ff', 'hex')),
      Uint8Array.from(Buffer.from('3000', 'hex')),
      Uint8Array.from(Buffer.from('03020780', 'hex')),
      Uint8Array.from(Buffer.from('300a06082b06010505070302', 'hex')),
      Uint8Array.from(Buffer.from('300b82096b756265726e657465', 'hex')),
    ),
  );
  const extension = fc
    .record({
      type: fc.constantFrom('2.5.29.19', '2.5.29.15', '2.5.29.37', '2.5.29.17', '1.2.3.4'),
      critical: fc.constantFrom(undefined, 0x00, 0xff),
      value: extensionValue,
    })
    .map(({ type, critical, value }) =>
      derSequence([oid(type), ...(critical === undefined ? [] : [derElement(0x01, Uint8Array.of(critical))]), derElement(0x04, value)]),
    );
  const attributes = fc.array(
    fc.oneof(
      fc.array(extension, { maxLength: 4 }).map((list) => derSequence([oid('1.2.840.113549.1.9.14'), set([derSequence(list)])])),
      fc.constant(derSequence([oid('1.2.840.113549.1.9.7'), set([derElement(0x0c, Buffer.from('secret'))])])),
    ),
    { maxLength: 2 },
  );

  it('are accepted with the encoded subject, or refused with a JitcaError', () => {
    fc.assert(
      fc.property(fc.array(rdn, { maxLength: 4 }), attributes, (rdns, attrs) => {
        const name = derSequence(rdns.map((members) => set(members.map((member) => member.der))));
        const info = derSequence([derElement(0x02, Uint8Array.of(0)), name, spki, derElement(0xa0, concatBytes(attrs))]);
        const signature = new Uint8Array(sign(null, info, privateKey));
        const request = derSequence([info, derSequence([oid('1.3.101.112')]), derElement(0x03, concatBytes([Uint8Array.of(0), signature]))]);
        const result = outcome(request);
        if (result !== 'accepted') return;
        const parsed = parseCsr(request);
        const commonNames = rdns.flat().filter((member) => member.type === '2.5.4.3');
        expect(commonNames.length).toBeLessThanOrEqual(1);
        const cn = commonNames[0];
        if (cn !== undefined && cn.tag === 0x0c && !cn.raw) expect(parsed.subject.commonName).toBe(cn.value);
        expect(rdns.every((members) => members.length === 1)).toBe(true);
      }),
      { numRuns: 1500 },
    );
  });
});
