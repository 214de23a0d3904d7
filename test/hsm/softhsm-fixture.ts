import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pkcs11js from 'pkcs11js';
import type { Handle, PKCS11 } from 'pkcs11js';
import { ensureSoftHsmToken, readPinFile, type SoftHsmToken } from '../../hsm/softhsm-bootstrap.ts';

export const SOFTHSM_MODULE = '/usr/lib/softhsm/libsofthsm2.so';

export interface SoftHsmFixture extends SoftHsmToken {
  dataDir: string;
  tokenLabel: string;
  pin: string;
  cleanup(): void;
}

/**
 * A real SoftHSM2 token in a temp dir, made by the code under test (ensureSoftHsmToken). SoftHSM2
 * takes one configuration per process (SOFTHSM2_CONF at C_Initialize), so each test file makes
 * one and closes every token before making another; vitest runs each file in its own fork.
 */
export function createSoftHsmFixture(tokenLabel = 'jitca-test'): SoftHsmFixture {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'jitca-hsm-'));
  const token = ensureSoftHsmToken({ dataDir, tokenLabel, modulePath: SOFTHSM_MODULE });
  return {
    ...token,
    dataDir,
    tokenLabel,
    pin: readPinFile(token.pinFile),
    cleanup: () => rmSync(dataDir, { recursive: true, force: true }),
  };
}

/**
 * A second, independent pkcs11js handle on the same module, as another part of the process (or
 * an attacker with the process's login) would use it. It shares the module's global state:
 * C_Initialize answers CKR_CRYPTOKI_ALREADY_INITIALIZED, sessions and login are common.
 */
export function secondHandle(): PKCS11 {
  const api = new pkcs11js.PKCS11();
  api.load(SOFTHSM_MODULE);
  try {
    api.C_Initialize({ flags: pkcs11js.CKF_OS_LOCKING_OK });
  } catch (error) {
    if (!(error instanceof pkcs11js.Pkcs11Error && error.message === 'CKR_CRYPTOKI_ALREADY_INITIALIZED')) throw error;
  }
  return api;
}

export function slotOf(api: PKCS11, tokenLabel: string): Handle {
  const slot = api.C_GetSlotList(true).find((candidate) => {
    try {
      return api.C_GetTokenInfo(candidate).label.replace(/[\0 ]+$/, '') === tokenLabel;
    } catch {
      return false;
    }
  });
  if (slot === undefined) throw new Error(`token ${tokenLabel} not found`);
  return slot;
}

export function findByLabel(api: PKCS11, session: Handle, label: string, objectClass: number): Handle[] {
  api.C_FindObjectsInit(session, [
    { type: pkcs11js.CKA_CLASS, value: objectClass },
    { type: pkcs11js.CKA_LABEL, value: label },
  ]);
  try {
    return api.C_FindObjects(session, 10);
  } finally {
    api.C_FindObjectsFinal(session);
  }
}
