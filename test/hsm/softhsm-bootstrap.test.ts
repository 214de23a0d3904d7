import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCodes } from '../../src/errors.ts';
import { isHsmError, type HsmError } from '../../hsm/hsm-error.ts';
import { ensureSoftHsmToken, readPinFile, useSoftHsmToken, type SoftHsmToken } from '../../hsm/softhsm-bootstrap.ts';
import { openPkcs11Token } from '../../hsm/pkcs11-token.ts';
import { SOFTHSM_MODULE, secondHandle } from './softhsm-fixture.ts';

const PIN_FILE_MODULE = fileURLToPath(new URL('../../hsm/pin-file.ts', import.meta.url));

const TOKEN_LABEL = 'jitca-bootstrap';
let dataDir: string;
let first: SoftHsmToken;

beforeAll(() => {
  dataDir = mkdtempSync(path.join(os.tmpdir(), 'jitca-bootstrap-'));
  first = ensureSoftHsmToken({ dataDir, tokenLabel: TOKEN_LABEL });
});

afterAll(() => {
  rmSync(dataDir, { recursive: true, force: true });
});

function caught(run: () => unknown): HsmError {
  try {
    run();
  } catch (error) {
    if (isHsmError(error)) return error;
    throw error;
  }
  throw new Error('expected a HsmError');
}

function filesUnder(directory: string): string[] {
  return readdirSync(directory, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => path.join(entry.parentPath, entry.name));
}

/**
 * Content and mode of every file, and the mtime of every file jitca writes. SoftHSM2 itself
 * rewrites its token's `generation` file (same bytes, new mtime) at every C_Initialize, whoever
 * calls it (measured with bare pkcs11js), so token-store mtimes say nothing about jitca.
 */
function snapshot(directory: string): Record<string, { mtimeMs?: number; mode: number; content: string }> {
  return Object.fromEntries(
    filesUnder(directory).map((file) => {
      const stat = statSync(file);
      const inTokenStore = file.includes(`${path.sep}tokens${path.sep}`);
      return [
        file,
        { ...(inTokenStore ? {} : { mtimeMs: stat.mtimeMs }), mode: stat.mode, content: readFileSync(file).toString('base64') },
      ];
    }),
  );
}

describe('ensureSoftHsmToken', () => {
  it('creates the token with private directories, a 0600 conf and 0600 random PIN files', () => {
    const hsmDir = path.join(dataDir, 'hsm');
    expect(first).toEqual({
      modulePath: SOFTHSM_MODULE,
      confPath: path.join(hsmDir, 'softhsm2.conf'),
      pinFile: path.join(hsmDir, 'user.pin'),
      soPinFile: path.join(hsmDir, 'so.pin'),
      created: true,
    });
    expect(statSync(hsmDir).mode & 0o777).toBe(0o700);
    expect(statSync(path.join(hsmDir, 'tokens')).mode & 0o777).toBe(0o700);
    for (const file of [first.confPath, first.pinFile, first.soPinFile]) expect(statSync(file).mode & 0o777, file).toBe(0o600);

    const conf = readFileSync(first.confPath, 'utf8');
    expect(conf).toContain(`directories.tokendir = ${path.join(hsmDir, 'tokens')}`);
    expect(conf).toContain('objectstore.backend = file');
    expect(conf).toContain('log.level = ERROR');
    expect(process.env['SOFTHSM2_CONF']).toBe(first.confPath);

    const userPin = readPinFile(first.pinFile);
    const soPin = readPinFile(first.soPinFile);
    expect(userPin).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(soPin).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(userPin).not.toBe(soPin);
  });

  it('the PINs appear in no file but their own PIN file', () => {
    const userPin = readPinFile(first.pinFile);
    const soPin = readPinFile(first.soPinFile);
    const others = filesUnder(path.join(dataDir, 'hsm')).filter((file) => file !== first.pinFile && file !== first.soPinFile);
    expect(others).toContain(first.confPath);
    expect(others.some((file) => file.includes(`${path.sep}tokens${path.sep}`))).toBe(true);
    for (const file of others) {
      const content = readFileSync(file);
      expect(content.includes(userPin), file).toBe(false);
      expect(content.includes(soPin), file).toBe(false);
    }
    expect(readFileSync(first.soPinFile, 'utf8').includes(userPin)).toBe(false);
  });

  it('the user PIN file logs in to the token it made', () => {
    const token = openPkcs11Token({ modulePath: first.modulePath, tokenLabel: TOKEN_LABEL, pin: readPinFile(first.pinFile), sessions: 1 });
    try {
      expect(token.listKeys()).toEqual([]);
    } finally {
      token.close();
    }
  });

  it('a second call finds the token and changes nothing', () => {
    const before = snapshot(dataDir);
    expect(Object.keys(before)).toEqual(expect.arrayContaining([first.confPath, first.pinFile, first.soPinFile]));
    const second = ensureSoftHsmToken({ dataDir, tokenLabel: TOKEN_LABEL });
    expect(second).toEqual({ ...first, created: false });
    expect(snapshot(dataDir)).toEqual(before);
  });

  it('runs in the same process as an open token (bootstrap, open, bootstrap again, sign)', async () => {
    const token = openPkcs11Token({ modulePath: first.modulePath, tokenLabel: TOKEN_LABEL, pin: readPinFile(first.pinFile), sessions: 2 });
    try {
      const signer = await token.generateKey('sequence-ca', 1, { kind: 'ed25519' });
      expect(ensureSoftHsmToken({ dataDir, tokenLabel: TOKEN_LABEL }).created).toBe(false);
      // The bootstrap's own module reference did not finalize the module under the open token.
      expect((await signer.sign(Buffer.from('still here'))).length).toBe(64);
    } finally {
      token.close();
    }
  });

  it('finishes a token an earlier run left without a user PIN (stopped between C_InitToken and C_InitPIN)', () => {
    const otherDir = mkdtempSync(path.join(os.tmpdir(), 'jitca-bootstrap-half-'));
    const hsmDir = path.join(otherDir, 'hsm');
    try {
      // The state the earlier run left: conf and PIN files written, token initialized, no user PIN.
      mkdirSync(path.join(hsmDir, 'tokens'), { recursive: true, mode: 0o700 });
      const confPath = path.join(hsmDir, 'softhsm2.conf');
      writeFileSync(confPath, `directories.tokendir = ${path.join(hsmDir, 'tokens')}\nobjectstore.backend = file\nlog.level = ERROR\n`, { mode: 0o600 });
      writeFileSync(path.join(hsmDir, 'so.pin'), 'half-made-so-pin\n', { mode: 0o600 });
      writeFileSync(path.join(hsmDir, 'user.pin'), 'half-made-user-pin\n', { mode: 0o600 });
      process.env['SOFTHSM2_CONF'] = confPath;
      const api = secondHandle();
      const [freeSlot] = api.C_GetSlotList(true);
      if (freeSlot === undefined) throw new Error('SoftHSM2 offered no slot');
      api.C_InitToken(freeSlot, 'half-made-so-pin', 'half-made'.padEnd(32, ' '));
      api.C_Finalize();

      const result = ensureSoftHsmToken({ dataDir: otherDir, tokenLabel: 'half-made' });
      expect(result.created).toBe(true);
      expect(readPinFile(result.pinFile)).toBe('half-made-user-pin'); // the saved PINs were kept
      const token = openPkcs11Token({ modulePath: result.modulePath, tokenLabel: 'half-made', pin: 'half-made-user-pin', sessions: 1 });
      token.close();
    } finally {
      rmSync(otherDir, { recursive: true, force: true });
      process.env['SOFTHSM2_CONF'] = first.confPath;
    }
  });

  it('refuses a token label PKCS#11 cannot hold, writing nothing', () => {
    const otherDir = mkdtempSync(path.join(os.tmpdir(), 'jitca-bootstrap-bad-'));
    try {
      for (const tokenLabel of ['', 'x'.repeat(33), 'trailing ', 'line\nbreak']) {
        expect(caught(() => ensureSoftHsmToken({ dataDir: otherDir, tokenLabel })).code, JSON.stringify(tokenLabel)).toBe(
          ErrorCodes.CONFIG_INVALID,
        );
      }
      expect(existsSync(path.join(otherDir, 'hsm'))).toBe(false);
    } finally {
      rmSync(otherDir, { recursive: true, force: true });
    }
  });

  it('a missing module is ERR_HSM_UNAVAILABLE and no PIN files are written', () => {
    const otherDir = mkdtempSync(path.join(os.tmpdir(), 'jitca-bootstrap-nomodule-'));
    try {
      const error = caught(() => ensureSoftHsmToken({ dataDir: otherDir, tokenLabel: 'x', modulePath: '/nonexistent/libsofthsm2.so' }));
      expect(error.code).toBe(ErrorCodes.HSM_UNAVAILABLE);
      expect(error.retryable).toBe(true);
      expect(existsSync(path.join(otherDir, 'hsm', 'user.pin'))).toBe(false);
      expect(existsSync(path.join(otherDir, 'hsm', 'so.pin'))).toBe(false);
    } finally {
      rmSync(otherDir, { recursive: true, force: true });
      process.env['SOFTHSM2_CONF'] = first.confPath;
    }
  });
});

describe('useSoftHsmToken', () => {
  it('finds the token init made, and refuses a data directory without one, writing nothing', () => {
    expect(useSoftHsmToken({ dataDir, tokenLabel: TOKEN_LABEL }).confPath).toBe(first.confPath);
    const empty = mkdtempSync(path.join(os.tmpdir(), 'jitca-hsm-none-'));
    try {
      expect(caught(() => useSoftHsmToken({ dataDir: empty, tokenLabel: TOKEN_LABEL })).code).toBe(ErrorCodes.CONFIG_INVALID);
      expect(caught(() => useSoftHsmToken({ dataDir: path.join(empty, 'missing'), tokenLabel: TOKEN_LABEL })).code).toBe(ErrorCodes.CONFIG_INVALID);
      expect(readdirSync(empty)).toEqual([]);
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });
});

describe('readPinFile', () => {
  let pinDir: string;
  beforeAll(() => {
    pinDir = mkdtempSync(path.join(os.tmpdir(), 'jitca-pin-'));
  });
  afterAll(() => rmSync(pinDir, { recursive: true, force: true }));

  it('reads a 0600 or 0400 PIN file, dropping one trailing newline', () => {
    const file = path.join(pinDir, 'ok.pin');
    writeFileSync(file, 'secret-pin-1\n', { mode: 0o600 });
    expect(readPinFile(file)).toBe('secret-pin-1');
    chmodSync(file, 0o400);
    expect(readPinFile(file)).toBe('secret-pin-1');
  });

  it.each(['0640', '0604', '0644', '0660'])('refuses a PIN file with mode %s, without revealing the PIN', (octal) => {
    const mode = Number.parseInt(octal, 8);
    const file = path.join(pinDir, `open-${octal}.pin`);
    writeFileSync(file, 'secret-pin-2\n');
    chmodSync(file, mode);
    const error = caught(() => readPinFile(file));
    expect(error.code).toBe(ErrorCodes.CONFIG_INVALID);
    expect(error.message).not.toContain('secret-pin-2');
    // Refusing did not "fix" the file behind the operator's back.
    expect(statSync(file).mode & 0o777).toBe(mode);
  });

  it('refuses a missing or empty PIN file', () => {
    expect(caught(() => readPinFile(path.join(pinDir, 'missing.pin'))).code).toBe(ErrorCodes.CONFIG_INVALID);
    const empty = path.join(pinDir, 'empty.pin');
    writeFileSync(empty, '\n', { mode: 0o600 });
    expect(caught(() => readPinFile(empty)).code).toBe(ErrorCodes.CONFIG_INVALID);
    expect(caught(() => readPinFile(pinDir)).code).toBe(ErrorCodes.CONFIG_INVALID);
  });

  it('refuses a FIFO as PIN file at once, instead of waiting for a writer', () => {
    const fifo = path.join(pinDir, 'fifo.pin');
    execFileSync('mkfifo', ['-m', '600', fifo]);
    // In a child with a time limit: a blocking open would hang this test process for good.
    const script = `import(${JSON.stringify(PIN_FILE_MODULE)}).then((m) => { try { m.readPinFile(${JSON.stringify(fifo)}); } catch (e) { console.log(e.code); } });`;
    const output = execFileSync(process.execPath, ['--input-type=module', '-e', script], { timeout: 10_000, encoding: 'utf8' });
    expect(output.trim()).toBe(ErrorCodes.CONFIG_INVALID);
  });
});
