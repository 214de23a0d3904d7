import pkcs11js from 'pkcs11js';
import { describe, expect, it } from 'vitest';
import { ErrorCodes } from '../../src/errors.ts';
import { moduleLoadError, toHsmError } from '../../hsm/pkcs11-errors.ts';

/** pkcs11js builds its Pkcs11Error from the native "CKR_NAME:number" message, as here. */
function pkcs11Error(name: string): Error {
  return new pkcs11js.Pkcs11Error(`${name}:${(pkcs11js as unknown as Record<string, number>)[name]}`);
}

describe('PKCS#11 return values as JitcaErrors', () => {
  it.each([
    'CKR_DEVICE_REMOVED',
    'CKR_DEVICE_ERROR',
    'CKR_TOKEN_NOT_PRESENT',
    'CKR_SESSION_HANDLE_INVALID',
    'CKR_SESSION_CLOSED',
    'CKR_CRYPTOKI_NOT_INITIALIZED',
    'CKR_GENERAL_ERROR',
  ])('%s: ERR_HSM_UNAVAILABLE, retryable', (name) => {
    const error = toHsmError(pkcs11Error(name), 'sign with ca/1');
    expect([error.code, error.retryable, error.details?.['ckr']]).toEqual([ErrorCodes.HSM_UNAVAILABLE, true, name]);
  });

  it.each(['CKR_PIN_INCORRECT', 'CKR_PIN_LEN_RANGE', 'CKR_PIN_LOCKED'])('%s: ERR_HSM_PIN, not retryable', (name) => {
    const error = toHsmError(pkcs11Error(name), 'login');
    expect([error.code, error.retryable]).toEqual([ErrorCodes.HSM_PIN, false]);
  });

  it.each(['CKR_KEY_HANDLE_INVALID', 'CKR_OBJECT_HANDLE_INVALID'])('%s: ERR_HSM_KEY_NOT_FOUND', (name) => {
    expect(toHsmError(pkcs11Error(name), 'sign').code).toBe(ErrorCodes.HSM_KEY_NOT_FOUND);
  });

  it('anything else is ERR_HSM_FAILURE with the CKR name in details', () => {
    const error = toHsmError(pkcs11Error('CKR_MECHANISM_INVALID'), 'sign with ca/1');
    expect(error.code).toBe(ErrorCodes.HSM_FAILURE);
    expect(error.retryable).toBe(false);
    expect(error.details).toEqual({ operation: 'sign with ca/1', ckr: 'CKR_MECHANISM_INVALID' });
    expect(toHsmError(new Error('boom'), 'sign').code).toBe(ErrorCodes.HSM_FAILURE);
  });

  it('a module that cannot be loaded is ERR_HSM_UNAVAILABLE, retryable', () => {
    const error = moduleLoadError('/x.so', new Error('/x.so: cannot open shared object file'));
    expect([error.code, error.retryable]).toEqual([ErrorCodes.HSM_UNAVAILABLE, true]);
  });
});
