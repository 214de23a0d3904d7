/**
 * Serials are checked without BigInt on the hot path (a 20-digit string is compared as text with
 * 2^64-1); the boundaries must be exactly where they were.
 */
import { describe, expect, it } from 'vitest';
import { ErrorCodes, isJitcaError } from '../../src/errors.ts';
import { issuedEntry, tempStorePerTest } from './store-fixtures.ts';

const openStore = tempStorePerTest();

describe('certificate serial bounds', () => {
  it('accepts 1, 19 nines, 10^19 and 2^64-1; refuses 2^64, 20 nines, 21 digits and leading zeros, writing nothing', async () => {
    const { store } = await openStore();
    const accepted = ['1', '9999999999999999999', '10000000000000000000', '18446744073709551614', '18446744073709551615'];
    for (const [i, serial] of accepted.entries()) await store.recordDecision(issuedEntry(`req-ok-${i}`, serial));
    for (const serial of accepted) expect((await store.findCertificateBySerial(serial))?.serial).toBe(serial);

    const refused = ['18446744073709551616', '18446744073709551620', '99999999999999999999', '100000000000000000000', '0', '01'];
    for (const [i, serial] of refused.entries()) {
      const error = await store.recordDecision(issuedEntry(`req-bad-${i}`, serial)).catch((e: unknown) => e);
      expect(isJitcaError(error, ErrorCodes.REQUEST_INVALID)).toBe(true);
      expect(await store.getRequest(`req-bad-${i}`)).toBeUndefined();
      const lookup = await store.findCertificateBySerial(serial).catch((e: unknown) => e);
      expect(isJitcaError(lookup, ErrorCodes.REQUEST_INVALID)).toBe(true);
    }
    expect(await store.listAudit()).toHaveLength(accepted.length);
  });
});
