import { randomFillSync } from 'node:crypto';

/**
 * Serials are drawn from a block of CSPRNG output refilled 256 at a time, as Node's randomUUID
 * does for UUIDs: one randomFillSync per certificate cost more main-thread time than the rest of
 * the serial handling together. Every serial is still fresh CSPRNG output, used once.
 */
const BLOCK_SIZE = 256;
const block = new BigUint64Array(BLOCK_SIZE);
let next = BLOCK_SIZE;

/**
 * Random non-zero 64-bit serial (PROTOCOL.certkeys: serial is uint64; 0 means "no serial" to
 * KRLs, so it is never issued). Uniqueness is enforced by the store's constraint, and the caller
 * draws again on a collision.
 */
export function randomSerial(): bigint {
  for (;;) {
    if (next === BLOCK_SIZE) {
      randomFillSync(block);
      next = 0;
    }
    const serial = block[next] ?? 0n;
    // Used values are wiped, so a serial never lingers in the block after it was handed out.
    block[next] = 0n;
    next += 1;
    if (serial !== 0n) return serial;
  }
}
