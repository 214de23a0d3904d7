import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENROLLMENT_NAMESPACE, evidenceProvesPossession, verifyPossession } from '../../src/enrollment/possession-proof.ts';
import { ErrorCodes } from '../../src/errors.ts';
import { parseSshPublicKey, sshPublicKeyFromKeyObject, type SshPublicKey } from '../../src/ssh/public-key.ts';
import { skSignedBytes, SK_FLAG_USER_PRESENT } from '../../src/ssh/sk-signature.ts';
import { armourSshSig, sshsigSignedData } from '../../src/ssh/sshsig.ts';
import { SshWriter } from '../../src/ssh/wire.ts';
import { codeOf } from '../support/error-codes.ts';

/**
 * The possession proof on its own: which evidence needs it, and signatures the real ssh-keygen
 * makes for each key type (and the ones it must refuse), plus a security key the test plays,
 * whose signature must say it was touched. Every refusal is ERR_KEY_POSSESSION_*, never the
 * ERR_AUTHN_* codes of login (a 401 would send the helper to log in again).
 */

const challenge = randomBytes(32);
let dir: string;
const keys = new Map<string, SshPublicKey>();

function sshKeygenSign(name: string, extra: string[] = [], message: Uint8Array = challenge, namespace = ENROLLMENT_NAMESPACE): string {
  return execFileSync('ssh-keygen', ['-q', '-Y', 'sign', '-n', namespace, ...extra, '-f', path.join(dir, name)], { input: message, encoding: 'utf8' });
}

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'jitca-possession-'));
  for (const [name, args] of [['ed25519', ['-t', 'ed25519']], ['p256', ['-t', 'ecdsa', '-b', '256']], ['rsa', ['-t', 'rsa', '-b', '2048']]] as const) {
    execFileSync('ssh-keygen', ['-q', ...args, '-N', '', '-f', path.join(dir, name)]);
    keys.set(name, parseSshPublicKey(readFileSync(path.join(dir, `${name}.pub`), 'utf8')));
  }
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('which enrollments must bring a possession signature', () => {
  it('a plain key, a PIV slot attestation and a PIV CSR must; FIDO signs the challenge itself', () => {
    expect([undefined, 'piv', 'piv-csr', 'fido'].map((kind) => evidenceProvesPossession(kind as 'piv' | undefined))).toEqual([false, false, false, true]);
    expect(codeOf(() => verifyPossession(undefined, keys.get('ed25519')!, challenge))).toBe(ErrorCodes.KEY_POSSESSION_MISSING);
  });
});

describe('ssh-keygen -Y sign over the challenge', () => {
  it.each(['ed25519', 'p256', 'rsa'])('%s: accepted for its own key', (name) => {
    expect(() => verifyPossession(sshKeygenSign(name), keys.get(name)!, challenge)).not.toThrow();
  });

  it('refused for another key, another challenge, another namespace, hash sha256, or garbage', () => {
    const key = keys.get('ed25519')!;
    const refused = (armoured: string, forKey = key) => codeOf(() => verifyPossession(armoured, forKey, challenge));
    expect(refused(sshKeygenSign('p256'))).toBe(ErrorCodes.KEY_POSSESSION_INVALID);
    expect(refused(sshKeygenSign('ed25519', [], randomBytes(32)))).toBe(ErrorCodes.KEY_POSSESSION_INVALID);
    expect(refused(sshKeygenSign('ed25519', [], challenge, 'jitca-login@jitca.dev'))).toBe(ErrorCodes.KEY_POSSESSION_INVALID);
    expect(refused(sshKeygenSign('ed25519', ['-O', 'hashalg=sha256']))).toBe(ErrorCodes.KEY_POSSESSION_INVALID);
    expect(refused('-----BEGIN SSH SIGNATURE-----\nAAAA\n-----END SSH SIGNATURE-----\n')).toBe(ErrorCodes.KEY_POSSESSION_INVALID);
    expect(refused('x'.repeat(9000))).toBe(ErrorCodes.KEY_POSSESSION_INVALID);
  });
});

describe('a security key enrolled without attestation (sk-ssh-ed25519, the test playing the authenticator)', () => {
  const application = 'ssh:';
  const pair = generateKeyPairSync('ed25519');
  const point = sshPublicKeyFromKeyObject(pair.publicKey).blob.subarray(-32);
  const blob = new SshWriter(96).writeString('sk-ssh-ed25519@openssh.com').writeString(point).writeString(application).toBytes();
  const key = parseSshPublicKey(`sk-ssh-ed25519@openssh.com ${Buffer.from(blob).toString('base64')}`);
  const signedWith = (flags: number): string => {
    const signature = sign(null, skSignedBytes(application, flags, 1, sshsigSignedData(ENROLLMENT_NAMESPACE, challenge)), pair.privateKey);
    const sig = new SshWriter(128).writeString('sk-ssh-ed25519@openssh.com').writeString(signature).writeRaw(Uint8Array.of(flags)).writeUint32(1).toBytes();
    return armourSshSig({ publicKeyBlob: blob, namespace: ENROLLMENT_NAMESPACE, signature: sig });
  };

  it('is accepted when the key was touched, refused when it was not', () => {
    expect(() => verifyPossession(signedWith(SK_FLAG_USER_PRESENT), key, challenge)).not.toThrow();
    expect(codeOf(() => verifyPossession(signedWith(0), key, challenge))).toBe(ErrorCodes.KEY_POSSESSION_INVALID);
  });
});
