import { chmodSync, existsSync, mkdirSync, renameSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import pkcs11js from 'pkcs11js';
import type { Handle, PKCS11 } from 'pkcs11js';
import { HsmErrorCodes, HsmError } from './hsm-error.ts';
import { toHsmError } from './pkcs11-errors.ts';
import { acquirePkcs11Module } from './pkcs11-module.ts';
import { findTokenSlot, normalizeTokenLabel } from './pkcs11-slot.ts';
import { generatePin, readPinFile, writePinFile } from './pin-file.ts';

export { readPinFile } from './pin-file.ts';

export const DEFAULT_SOFTHSM_MODULE = '/usr/lib/softhsm/libsofthsm2.so';

export interface SoftHsmTokenOptions {
  /** jitca's data directory; the token lives in <dataDir>/hsm. */
  dataDir: string;
  tokenLabel: string;
  /** Default /usr/lib/softhsm/libsofthsm2.so (Debian's softhsm2 package). */
  modulePath?: string;
}

export interface SoftHsmToken {
  modulePath: string;
  confPath: string;
  /** User PIN, mode 0600: what openPkcs11Token logs in with (read it with readPinFile). */
  pinFile: string;
  /** Security Officer PIN, mode 0600: only needed to re-initialize the user PIN. */
  soPinFile: string;
  /** True when this call created the token (or finished an interrupted creation). */
  created: boolean;
}

/**
 * The embedded default custody: a SoftHSM2 token under <dataDir>/hsm, created on first use.
 *
 * - <dataDir>/hsm (0700) holds softhsm2.conf (0600), tokens/ (0700), user.pin and so.pin (0600).
 * - PINs are random (crypto.randomBytes) and the token is initialized through PKCS#11 itself
 *   (C_InitToken, then C_Login as SO and C_InitPIN), not with softhsm2-util, whose command line
 *   would show the PINs to anyone who can list processes.
 * - Idempotent: when the token exists nothing is written and created is false.
 *
 * This edge sets process.env.SOFTHSM2_CONF: SoftHSM2 takes its configuration only from that
 * variable, read once at C_Initialize, and PKCS#11 has no argument to pass it. It is set before
 * the module is initialized here, and stays set so the later openPkcs11Token (and any module
 * re-initialization after a fault) sees the same token directory. SoftHSM2 has one configuration
 * per process: if the module is already initialized with another one, this refuses.
 */
export function ensureSoftHsmToken(options: SoftHsmTokenOptions): SoftHsmToken {
  assertTokenLabel(options.tokenLabel);
  const modulePath = options.modulePath ?? DEFAULT_SOFTHSM_MODULE;
  const hsmDir = path.join(path.resolve(options.dataDir), 'hsm');
  if (/[\r\n]/.test(hsmDir)) {
    throw new HsmError(HsmErrorCodes.CONFIG_INVALID, 'data directory path must not contain line breaks (it goes into softhsm2.conf)');
  }
  const tokenDir = path.join(hsmDir, 'tokens');
  const confPath = path.join(hsmDir, 'softhsm2.conf');
  const pinFile = path.join(hsmDir, 'user.pin');
  const soPinFile = path.join(hsmDir, 'so.pin');
  const result = { modulePath, confPath, pinFile, soPinFile };

  ensurePrivateDirectory(hsmDir);
  ensurePrivateDirectory(tokenDir);
  if (!existsSync(confPath)) writeConf(confPath, tokenDir);
  process.env['SOFTHSM2_CONF'] = confPath;

  const module = acquirePkcs11Module(modulePath);
  try {
    assertServesConf(module, confPath);
    const api = module.api;
    const slot = findSlotOrUndefined(api, options.tokenLabel, modulePath);
    if (slot !== undefined) {
      if ((api.C_GetTokenInfo(slot).flags & pkcs11js.CKF_USER_PIN_INITIALIZED) !== 0) return { ...result, created: false };
      // Created by an earlier run that stopped between C_InitToken and C_InitPIN: finish it.
      initUserPin(api, slot, readPinFile(soPinFile), readPinFile(pinFile));
      return { ...result, created: true };
    }
    const soPin = generatePin();
    const userPin = generatePin();
    // PIN files first: a token must never exist whose PINs were not saved.
    writePinFile(soPinFile, soPin);
    writePinFile(pinFile, userPin);
    api.C_InitToken(freeSlot(api), soPin, paddedTokenLabel(options.tokenLabel));
    initUserPin(api, findTokenSlot(api, options.tokenLabel, modulePath), soPin, userPin);
    return { ...result, created: true };
  } catch (error) {
    throw toHsmError(error, `initialize SoftHSM2 token "${options.tokenLabel}"`);
  } finally {
    module.release();
  }
}

/**
 * The embedded token that `jitca init` made, for every command but init and serve: sets
 * SOFTHSM2_CONF as ensureSoftHsmToken does, and creates nothing. No <dataDir>/hsm/softhsm2.conf
 * is ERR_CONFIG_INVALID (a mistyped --data-dir must not grow a fresh token and PIN files).
 */
export function useSoftHsmToken(options: SoftHsmTokenOptions): Omit<SoftHsmToken, 'created'> {
  assertTokenLabel(options.tokenLabel);
  const modulePath = options.modulePath ?? DEFAULT_SOFTHSM_MODULE;
  const hsmDir = path.join(path.resolve(options.dataDir), 'hsm');
  const confPath = path.join(hsmDir, 'softhsm2.conf');
  if (!existsSync(confPath)) {
    throw new HsmError(HsmErrorCodes.CONFIG_INVALID, `no SoftHSM2 token under ${hsmDir}: check --data-dir/--config, or run jitca init`, {
      details: { confPath },
    });
  }
  process.env['SOFTHSM2_CONF'] = confPath;
  const module = acquirePkcs11Module(modulePath);
  try {
    assertServesConf(module, confPath);
  } finally {
    module.release();
  }
  return { modulePath, confPath, pinFile: path.join(hsmDir, 'user.pin'), soPinFile: path.join(hsmDir, 'so.pin') };
}

function initUserPin(api: PKCS11, slot: Handle, soPin: string, userPin: string): void {
  const session = api.C_OpenSession(slot, pkcs11js.CKF_RW_SESSION | pkcs11js.CKF_SERIAL_SESSION);
  try {
    api.C_Login(session, pkcs11js.CKU_SO, soPin);
    api.C_InitPIN(session, userPin);
    api.C_Logout(session);
  } finally {
    api.C_CloseSession(session);
  }
}

function findSlotOrUndefined(api: PKCS11, tokenLabel: string, modulePath: string): Handle | undefined {
  try {
    return findTokenSlot(api, tokenLabel, modulePath);
  } catch (error) {
    if (error instanceof HsmError && error.code === HsmErrorCodes.HSM_UNAVAILABLE) return undefined;
    throw error;
  }
}

/** SoftHSM2 always offers one slot with an uninitialized token; C_InitToken goes there. */
function freeSlot(api: PKCS11): Handle {
  for (const slot of api.C_GetSlotList(true)) {
    let flags: number;
    try {
      flags = api.C_GetTokenInfo(slot).flags;
    } catch {
      continue; // an unreadable token is not a free one
    }
    if ((flags & pkcs11js.CKF_TOKEN_INITIALIZED) === 0) return slot;
  }
  throw new HsmError(HsmErrorCodes.HSM_FAILURE, 'SoftHSM2 offers no slot with an uninitialized token');
}

/**
 * CK_TOKEN_INFO.label is exactly 32 bytes, blank padded (PKCS#11 2.40 §3.2). pkcs11js passes the
 * label as a C string and the module reads 32 bytes from it, so an unpadded label reads past
 * the end of the string (it came out NUL-padded when measured): always pass all 32 bytes.
 */
function paddedTokenLabel(tokenLabel: string): string {
  return tokenLabel + ' '.repeat(32 - Buffer.byteLength(tokenLabel, 'utf8'));
}

function assertTokenLabel(tokenLabel: string): void {
  const bytes = Buffer.byteLength(tokenLabel, 'utf8');
  const control = /[\u0000-\u001f\u007f]/.test(tokenLabel);
  if (bytes === 0 || bytes > 32 || control || normalizeTokenLabel(tokenLabel) !== tokenLabel || tokenLabel.startsWith(' ')) {
    throw new HsmError(
      HsmErrorCodes.CONFIG_INVALID,
      `token label "${tokenLabel}" is not allowed: use 1-32 bytes of printable text without leading or trailing blanks`,
      { details: { tokenLabel } },
    );
  }
}

function ensurePrivateDirectory(directory: string): void {
  mkdirSync(directory, { recursive: true, mode: 0o700 });
  // mkdir's mode is filtered by the umask, and an existing directory keeps its mode: tighten it.
  if ((statSync(directory).mode & 0o077) !== 0) chmodSync(directory, 0o700);
}

function writeConf(confPath: string, tokenDir: string): void {
  const text = [
    '# Written by jitca (hsm/softhsm-bootstrap.ts) for the embedded SoftHSM2 token. No secrets here:',
    '# the PINs are in user.pin and so.pin next to this file.',
    `directories.tokendir = ${tokenDir}`,
    'objectstore.backend = file',
    'log.level = ERROR',
    'slots.removable = false',
    '',
  ].join('\n');
  const temporary = `${confPath}.${randomBytes(6).toString('hex')}.tmp`;
  writeFileSync(temporary, text, { mode: 0o600, flag: 'wx' });
  renameSync(temporary, confPath);
}

/** SoftHSM2 reads SOFTHSM2_CONF once, at C_Initialize: one process serves one configuration. */
function assertServesConf(module: { initializedWithSoftHsmConf: string | undefined }, confPath: string): void {
  if (module.initializedWithSoftHsmConf === confPath) return;
  throw new HsmError(
    HsmErrorCodes.CONFIG_INVALID,
    `SoftHSM2 is already initialized in this process with ${module.initializedWithSoftHsmConf ?? 'its default configuration'}; one process serves one SoftHSM2 configuration`,
    { details: { confPath } },
  );
}
