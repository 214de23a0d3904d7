import { randomFillSync } from 'node:crypto';

/**
 * Small CSPRNG draws (certificate nonces) taken from a block refilled 8 KiB at a time, as
 * src/issuance/serial.ts does for serials and Node's randomUUID for UUIDs: a randomFillSync per
 * certificate cost about 4 µs of the event loop, a draw from the block 0.1 µs (bench/nonce.ts).
 * Every draw is fresh CSPRNG output, handed out once and wiped from the block as it leaves.
 */
const BLOCK_BYTES = 8192;
const block = new Uint8Array(BLOCK_BYTES);
let next = BLOCK_BYTES;

/** `length` fresh random bytes (at most the block's size) in a Uint8Array of their own. */
export function freshRandomBytes(length: number): Uint8Array {
  if (!Number.isInteger(length) || length < 0 || length > BLOCK_BYTES) throw new RangeError(`cannot draw ${length} random bytes at once`);
  if (next + length > BLOCK_BYTES) {
    randomFillSync(block);
    next = 0;
  }
  const bytes = block.slice(next, next + length);
  block.fill(0, next, next + length);
  next += length;
  return bytes;
}
