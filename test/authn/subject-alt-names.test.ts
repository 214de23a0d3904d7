import { describe, expect, test } from 'vitest';
import fc from 'fast-check';
import { parseSubjectAltNames, type SubjectAltName } from '../../src/authn/subject-alt-names.ts';

/** Node's rule (CVE-2021-44532 fix): quote as a JSON literal when the value has , " \ ' or control characters. */
function nodeFormat(names: SubjectAltName[]): string {
  return names
    .map(({ type, value }) => `${type}:${/[,"\\'\u0000-\u001f\u007f]/.test(value) ? JSON.stringify(value).replaceAll(',', '\\u002c') : value}`)
    .join(', ');
}

describe('parseSubjectAltNames', () => {
  test('reads the names Node prints for a typical gateway certificate', () => {
    expect(parseSubjectAltNames('URI:spiffe://cluster.local/ns/jitca/sa/ssh-gateway, DNS:gw.jitca.svc, IP Address:10.0.0.7')).toEqual([
      { type: 'URI', value: 'spiffe://cluster.local/ns/jitca/sa/ssh-gateway' },
      { type: 'DNS', value: 'gw.jitca.svc' },
      { type: 'IP Address', value: '10.0.0.7' },
    ]);
  });

  test('a quoted value is one name even when it contains ", URI:..."', () => {
    expect(parseSubjectAltNames('URI:"x\\u002c URI:spiffe://allowed\\u002c y", DNS:ok')).toEqual([
      { type: 'URI', value: 'x, URI:spiffe://allowed, y' },
      { type: 'DNS', value: 'ok' },
    ]);
    expect(parseSubjectAltNames('URI:"x, URI:spiffe://allowed, y"')).toEqual([{ type: 'URI', value: 'x, URI:spiffe://allowed, y' }]);
  });

  test.each([
    'othername:XmppAddr:"a, URI:spiffe://allowed, b"',
    'URI:"unterminated',
    'URI:"a"trailing',
    'URI:a, ',
    ':value',
    'URI:a,URI:b',
    'no-colon',
  ])('refuses text outside the grammar: %s', (text) => {
    expect(parseSubjectAltNames(text)).toBeUndefined();
  });

  test('round-trips whatever Node would print, and never throws on arbitrary text', () => {
    const name = fc.record({ type: fc.constantFrom('URI', 'DNS', 'email', 'IP Address'), value: fc.string({ maxLength: 30 }) });
    fc.assert(
      fc.property(fc.array(name, { minLength: 1, maxLength: 5 }), (names) => {
        expect(parseSubjectAltNames(nodeFormat(names))).toEqual(names);
      }),
      { numRuns: 1000 },
    );
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom(...'URI:, "\\xa'.split('')), maxLength: 40 }), (text) => {
        const parsed = parseSubjectAltNames(text);
        if (parsed !== undefined) for (const entry of parsed) expect(entry.type.length).toBeGreaterThan(0);
      }),
      { numRuns: 2000 },
    );
  });
});
