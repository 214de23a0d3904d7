import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCodes, isJitcaError } from '../../src/errors.ts';
import {
  MAX_SCOPE_FIELD_BYTES,
  SCOPE_EXTENSION_OID,
  decodeScopeExtension,
  encodeScopeExtension,
  type CertificateScope,
} from '../../src/x509/scope-extension.ts';
import { derContextPrimitive, derElement, derSequence, derUtf8String } from '../../src/x509/der-writer.ts';
import { OpensslWorkspace, caught, expectCode, opensslOk } from './openssl.ts';

let work: OpensslWorkspace;
beforeAll(() => {
  work = new OpensslWorkspace();
});
afterAll(() => work?.cleanup());

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

describe('jitca scope extension', () => {
  it('its OID is 2.25 plus the decimal of the UUID named in the source', () => {
    const uuid = 'ab1f5bce-5e18-4f47-9f00-6d24e8e3a30b';
    expect(SCOPE_EXTENSION_OID).toBe(`2.25.${BigInt(`0x${uuid.replaceAll('-', '')}`).toString(10)}`);
    // openssl reads the OID as we write it (the arc is 128 bits, beyond any machine integer).
    const der = work.write('oid.der', Uint8Array.from(Buffer.from('0614' + '6982d69fadf3cbe1c2bd8f9f809ba4cec78ec60b', 'hex')));
    expect(opensslOk(['asn1parse', '-inform', 'DER', '-in', der])).toContain(`OBJECT            :${SCOPE_EXTENSION_OID}`);
  });

  it('encodes the documented DER: two UTF8Strings then [0] [1] [2] IMPLICIT UTF8String', () => {
    const text = (value: string): string => Buffer.from(value, 'utf8').toString('hex');
    expect(hex(encodeScopeExtension({ cluster: 'prod', namespace: 'payments' }))).toBe(`3010 0c04${text('prod')} 0c08${text('payments')}`.replaceAll(' ', ''));
    const full = encodeScopeExtension({ cluster: 'prod', namespace: 'payments', pod: 'api-0', node: 'n1', approvalReference: 'req-7' });
    expect(hex(full)).toBe(
      `3022 0c04${text('prod')} 0c08${text('payments')} 8005${text('api-0')} 8102${text('n1')} 8205${text('req-7')}`.replaceAll(' ', ''),
    );
    const parsed = opensslOk(['asn1parse', '-inform', 'DER', '-in', work.write('scope.der', full)]);
    expect(parsed).toMatch(/UTF8STRING\s+:prod/);
    expect(parsed).toMatch(/UTF8STRING\s+:payments/);
    expect(parsed).toMatch(/cont \[ 0 \]/);
    expect(parsed).toMatch(/cont \[ 1 \]/);
    expect(parsed).toMatch(/cont \[ 2 \]/);
  });

  it('decodes what it encodes, for any allowed values', () => {
    const field = fc
      .string({ unit: 'grapheme', minLength: 1, maxLength: 40 })
      .filter((value) => !/[\u0000-\u001f\u007f-\u009f]/.test(value) && Buffer.byteLength(value) <= MAX_SCOPE_FIELD_BYTES);
    const scope: fc.Arbitrary<CertificateScope> = fc.record(
      { cluster: field, namespace: field, pod: field, node: field, approvalReference: field },
      { requiredKeys: ['cluster', 'namespace'] },
    );
    fc.assert(
      fc.property(scope, (value) => {
        expect(decodeScopeExtension(encodeScopeExtension(value))).toEqual(value);
      }),
      { numRuns: 500 },
    );
  });

  it('skips fields a later version adds ([3] and up), keeping the ones it knows', () => {
    const known = encodeScopeExtension({ cluster: 'prod', namespace: 'payments', node: 'n1' });
    const extended = Uint8Array.from([0x30, known.length - 2 + 4, ...known.subarray(2), 0x83, 0x02, 0x68, 0x69]);
    expect(decodeScopeExtension(extended)).toEqual({ cluster: 'prod', namespace: 'payments', node: 'n1' });
  });

  it('refuses malformed values with ERR_CERTIFICATE_INVALID', () => {
    const good = encodeScopeExtension({ cluster: 'prod', namespace: 'payments', pod: 'p' });
    const utf8 = (value: string): Uint8Array => new TextEncoder().encode(value);
    const cases: Uint8Array[] = [
      new Uint8Array(0),
      Uint8Array.from([...good, 0x00]), // trailing byte
      derSequence([derUtf8String('prod')]), // namespace missing
      derSequence([derElement(0x13, utf8('prod')), derUtf8String('payments')]), // PrintableString cluster
      derSequence([derUtf8String('prod'), derUtf8String('payments'), derContextPrimitive(1, utf8('n')), derContextPrimitive(0, utf8('p'))]), // [1] before [0]
      derSequence([derUtf8String('prod'), derUtf8String('payments'), derContextPrimitive(0, utf8('p')), derContextPrimitive(0, utf8('q'))]), // [0] twice
      derSequence([derUtf8String('prod'), derUtf8String('payments'), derElement(0xa0, derUtf8String('p'))]), // [0] constructed (EXPLICIT)
      derSequence([derUtf8String(''), derUtf8String('payments')]), // empty cluster
      derSequence([derElement(0x0c, Uint8Array.from([0xc3, 0x28])), derUtf8String('payments')]), // invalid UTF-8
      derSequence([derUtf8String('pro\u001bd'), derUtf8String('payments')]), // control character
      derSequence([derUtf8String('prod'), derUtf8String('x'.repeat(MAX_SCOPE_FIELD_BYTES + 1))]), // too long
      derElement(0x31, derSequence([derUtf8String('prod'), derUtf8String('payments')]).subarray(2)), // a SET, not a SEQUENCE
    ];
    for (const value of cases) expectCode(caught(() => decodeScopeExtension(value)), ErrorCodes.CERTIFICATE_INVALID);
  });

  it('refuses to encode empty, oversized or control-character fields (ERR_REQUEST_INVALID)', () => {
    const cases: CertificateScope[] = [
      { cluster: '', namespace: 'payments' },
      { cluster: 'prod', namespace: 'x'.repeat(MAX_SCOPE_FIELD_BYTES + 1) },
      { cluster: 'prod', namespace: 'payments', pod: 'a\nb' },
      { cluster: 'prod', namespace: 'payments', approvalReference: '\ud800' },
      { cluster: 42 as unknown as string, namespace: 'payments' },
    ];
    for (const scope of cases) expectCode(caught(() => encodeScopeExtension(scope)), ErrorCodes.REQUEST_INVALID);
  });

  it('random bytes only ever throw JitcaError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        try {
          decodeScopeExtension(Uint8Array.from([0x30, bytes.length & 0x7f, ...bytes]));
        } catch (error) {
          expect(isJitcaError(error)).toBe(true);
        }
      }),
      { numRuns: 2000 },
    );
  });
});
