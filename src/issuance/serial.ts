import { randomBytes } from 'node:crypto';

/**
 * Random non-zero 64-bit serial (PROTOCOL.certkeys: serial is uint64; 0 means "no serial" to
 * KRLs, so it is never issued). Uniqueness is enforced by the store's constraint, and the caller
 * draws again on a collision.
 */
export function randomSerial(): bigint {
  for (;;) {
    const serial = randomBytes(8).readBigUInt64BE(0);
    if (serial !== 0n) return serial;
  }
}
