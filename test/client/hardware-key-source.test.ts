import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, test } from 'vitest';
import { pickHardwareKey } from '../../src/client/hardware-key-source.ts';
import { parseSshPublicKey, sshPublicKeyFromKeyObject } from '../../src/ssh/public-key.ts';
import { ErrorCodes, isJitcaError } from '../../src/errors.ts';

/** The JitcaError `run` throws: its code, and its message containing `words`. */
function expectJitcaError(run: () => unknown, code: string, words: string): void {
  try {
    run();
  } catch (error) {
    expect(isJitcaError(error, code as never)).toBe(true);
    expect((error as Error).message).toContain(words);
    return;
  }
  throw new Error('expected a JitcaError');
}

const key = () => parseSshPublicKey(sshPublicKeyFromKeyObject(generateKeyPairSync('ed25519').publicKey).blob);
const [a, b, c] = [key(), key(), key()];

describe('pickHardwareKey', () => {
  test('the key named by fingerprint, whatever is enrolled', () => {
    expect(pickHardwareKey([a, b], [a.fingerprint], b.fingerprint)).toBe(b);
  });
  test('a named key that is not there is refused, listing what was seen', () => {
    expectJitcaError(() => pickHardwareKey([a], [], c.fingerprint), ErrorCodes.REQUEST_INVALID, a.fingerprint);
  });
  test('the one enrolled key among several', () => {
    expect(pickHardwareKey([a, b, c], [b.fingerprint, 'SHA256:elsewhere'], undefined)).toBe(b);
  });
  test('the only key when none is enrolled', () => {
    expect(pickHardwareKey([a], [], undefined)).toBe(a);
  });
  test('several keys and none (or two) enrolled: ambiguous, never a guess', () => {
    expectJitcaError(() => pickHardwareKey([a, b], [], undefined), ErrorCodes.REQUEST_INVALID, '--key-fingerprint');
    expectJitcaError(() => pickHardwareKey([a, b], [a.fingerprint, b.fingerprint], undefined), ErrorCodes.REQUEST_INVALID, '--key-fingerprint');
  });
  test('no key at all', () => {
    expectJitcaError(() => pickHardwareKey([], [], undefined), ErrorCodes.REQUEST_INVALID, 'no key');
  });
});
