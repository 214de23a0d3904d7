import { generateKeyPairSync, sign as nodeSign, type KeyObject } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCodes } from '../../src/errors.ts';
import { encodeBase64 } from '../../src/ssh/base64.ts';
import { parseSshPublicKey, sshPublicKeyFromKeyObject } from '../../src/ssh/public-key.ts';
import { skSignedBytes, SK_FLAG_USER_PRESENT } from '../../src/ssh/sk-signature.ts';
import { armourSshSig, parseArmouredSshSig, sshsigSignedData, verifySshSig } from '../../src/ssh/sshsig.ts';
import { SshWriter } from '../../src/ssh/wire.ts';
import { makeTempDir, sections, sh } from './ssh-keygen.ts';

/**
 * PROTOCOL.sshsig against real OpenSSH both ways: signatures `ssh-keygen -Y sign` writes verify
 * here (and fail for another message or namespace), and signatures jitca armours (the form a
 * signature made through ssh-agent takes) pass `ssh-keygen -Y verify`, which is also the oracle
 * for the security-key cases no hardware is needed to build: the test plays the authenticator.
 */

const NAMESPACE = 'jitca-login@example.org';
const MESSAGE = 'challenge-0123456789abcdef';
const KEYS = { ed25519: '-t ed25519', p256: '-t ecdsa -b 256', p384: '-t ecdsa -b 384', rsa: '-t rsa -b 2048' };

let tmp: ReturnType<typeof makeTempDir>;
let out: Map<string, string>;

beforeAll(async () => {
  tmp = makeTempDir('sshsig');
  writeFileSync(join(tmp.dir, 'msg'), MESSAGE);
  const script = Object.entries(KEYS)
    .map(
      ([name, args]) => `ssh-keygen -q ${args} -N '' -C ${name} -f ${name}
ssh-keygen -q -Y sign -n ${NAMESPACE} -f ${name} msg
echo ==${name}.pub==; cat ${name}.pub; echo ==${name}.sig==; cat msg.sig; rm msg.sig`,
    )
    .join('\n');
  out = sections(await sh(script, tmp.dir));
});

afterAll(() => tmp.cleanup());

function signedBy(name: string): { sig: string; pub: string } {
  return { sig: out.get(`${name}.sig`) ?? '', pub: out.get(`${name}.pub`) ?? '' };
}

function codeOf(action: () => unknown): string | undefined {
  try {
    action();
  } catch (error) {
    return (error as { code?: string }).code;
  }
  return undefined;
}

/** ssh-keygen -Y verify as the oracle: true when OpenSSH accepts `armoured` for `publicKeyLine`. */
async function opensshAccepts(armoured: string, publicKeyLine: string, namespace = NAMESPACE): Promise<boolean> {
  writeFileSync(join(tmp.dir, 'oracle.sig'), armoured);
  writeFileSync(join(tmp.dir, 'allowed'), `me@example.org ${publicKeyLine.trim()}\n`);
  const result = await sh(
    `if ssh-keygen -Y verify -f allowed -I me@example.org -n ${namespace} -s oracle.sig < msg >/dev/null 2>&1; then echo yes; else echo no; fi`,
    tmp.dir,
  );
  return result.trim() === 'yes';
}

describe('ssh-keygen -Y sign output', () => {
  it.each(Object.keys(KEYS))('%s: verifies and names the signing key', (name) => {
    const { sig, pub } = signedBy(name);
    const blob = verifySshSig(parseArmouredSshSig(sig), { namespace: NAMESPACE, message: Buffer.from(MESSAGE) });
    expect(Buffer.from(blob).equals(Buffer.from(parseSshPublicKey(pub).blob))).toBe(true);
  });

  it('refuses another message (a signature over another challenge)', () => {
    const sig = parseArmouredSshSig(signedBy('ed25519').sig);
    expect(codeOf(() => verifySshSig(sig, { namespace: NAMESPACE, message: Buffer.from(`${MESSAGE}x`) }))).toBe(
      ErrorCodes.AUTHN_SIGNATURE,
    );
  });

  it('refuses another namespace, even with the right message', () => {
    const sig = parseArmouredSshSig(signedBy('p256').sig);
    expect(codeOf(() => verifySshSig(sig, { namespace: 'git', message: Buffer.from(MESSAGE) }))).toBe(
      ErrorCodes.AUTHN_SIGNATURE,
    );
  });

  it('refuses a namespace swapped in the blob (the signature covers it)', () => {
    const sig = parseArmouredSshSig(signedBy('ed25519').sig);
    const forged = { ...sig, namespace: 'jitca-login@evil.example' };
    expect(codeOf(() => verifySshSig(forged, { namespace: forged.namespace, message: Buffer.from(MESSAGE) }))).toBe(
      ErrorCodes.AUTHN_SIGNATURE,
    );
  });

  it('refuses a signature whose key was swapped for another', () => {
    const sig = parseArmouredSshSig(signedBy('ed25519').sig);
    const other = parseArmouredSshSig(signedBy('p256').sig);
    const swapped = { ...sig, publicKeyBlob: other.publicKeyBlob };
    expect(codeOf(() => verifySshSig(swapped, { namespace: NAMESPACE, message: Buffer.from(MESSAGE) }))).toBe(
      ErrorCodes.AUTHN_SIGNATURE,
    );
  });

  it.each([
    ['not armoured', 'hello'],
    ['bad base64', '-----BEGIN SSH SIGNATURE-----\n!!!!\n-----END SSH SIGNATURE-----'],
    ['truncated', '-----BEGIN SSH SIGNATURE-----\nU1NIU0lH\n-----END SSH SIGNATURE-----'],
    ['too large', `-----BEGIN SSH SIGNATURE-----\n${'A'.repeat(9000)}\n-----END SSH SIGNATURE-----`],
  ])('malformed input (%s) is ERR_AUTHN_MALFORMED', (_label, text) => {
    expect(codeOf(() => parseArmouredSshSig(text))).toBe(ErrorCodes.AUTHN_MALFORMED);
  });
});

/** Signs the SSHSIG signed data the way ssh-agent would for an ordinary key, armoured by jitca. */
function agentStyleSig(privateKey: KeyObject, publicKey: KeyObject, namespace: string): string {
  const pub = sshPublicKeyFromKeyObject(publicKey);
  const data = sshsigSignedData(namespace, Buffer.from(MESSAGE));
  const raw = nodeSign(null, data, privateKey);
  const signature = new SshWriter(128).writeString('ssh-ed25519').writeString(raw).toBytes();
  return armourSshSig({ publicKeyBlob: pub.blob, namespace, signature });
}

describe('signatures jitca armours, judged by ssh-keygen -Y verify', () => {
  it('an Ed25519 signature over the SSHSIG signed data verifies in both', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const armoured = agentStyleSig(privateKey, publicKey, NAMESPACE);
    const line = `ssh-ed25519 ${encodeBase64(sshPublicKeyFromKeyObject(publicKey).blob)}`;
    expect(await opensshAccepts(armoured, line)).toBe(true);
    expect(() => verifySshSig(parseArmouredSshSig(armoured), { namespace: NAMESPACE, message: Buffer.from(MESSAGE) })).not.toThrow();
  });
});

/** Plays a FIDO authenticator: an sk key line and SSHSIG signatures with chosen flags. */
function fakeSecurityKey(kind: 'ed25519' | 'ecdsa'): { line: string; sign: (flags: number) => string } {
  const application = 'ssh:';
  const pair = kind === 'ed25519' ? generateKeyPairSync('ed25519') : generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const inner = sshPublicKeyFromKeyObject(pair.publicKey).blob;
  const type = kind === 'ed25519' ? 'sk-ssh-ed25519@openssh.com' : 'sk-ecdsa-sha2-nistp256@openssh.com';
  // The sk blob is the plain key's fields under the sk type name, then the application.
  const fields = inner.subarray(4 + Buffer.from(inner.subarray(0, 4)).readUInt32BE(0));
  const blob = new SshWriter(128).writeString(type).writeRaw(fields).writeString(application).toBytes();
  const sign = (flags: number): string => {
    const counter = 7;
    const signed = skSignedBytes(application, flags, counter, sshsigSignedData(NAMESPACE, Buffer.from(MESSAGE)));
    let sigBlob: Uint8Array;
    if (kind === 'ed25519') {
      sigBlob = nodeSign(null, signed, pair.privateKey);
    } else {
      const rs = nodeSign('sha256', signed, { key: pair.privateKey, dsaEncoding: 'ieee-p1363' });
      sigBlob = new SshWriter(80).writeMpint(rs.subarray(0, 32)).writeMpint(rs.subarray(32)).toBytes();
    }
    const signature = new SshWriter(128)
      .writeString(type)
      .writeString(sigBlob)
      .writeRaw(Uint8Array.of(flags))
      .writeUint32(counter)
      .toBytes();
    return armourSshSig({ publicKeyBlob: blob, namespace: NAMESPACE, signature });
  };
  return { line: `${type} ${encodeBase64(blob)}`, sign };
}

describe.each(['ed25519', 'ecdsa'] as const)('security key (sk-%s)', (kind) => {
  const key = fakeSecurityKey(kind);

  it('a touched signature verifies here and in ssh-keygen', async () => {
    const armoured = key.sign(SK_FLAG_USER_PRESENT);
    expect(await opensshAccepts(armoured, key.line)).toBe(true);
    const blob = verifySshSig(parseArmouredSshSig(armoured), { namespace: NAMESPACE, message: Buffer.from(MESSAGE) });
    expect(Buffer.from(blob).equals(Buffer.from(parseSshPublicKey(key.line).blob))).toBe(true);
  });

  it('a signature without user presence is refused here, though it is valid (ssh-keygen 9.2 -Y verify accepts it)', async () => {
    // jitca is stricter than the oracle on purpose: a login needs a touch, whatever OpenSSH's
    // allowed-signers options would say.
    const armoured = key.sign(0);
    expect(await opensshAccepts(armoured, key.line)).toBe(true);
    expect(codeOf(() => verifySshSig(parseArmouredSshSig(armoured), { namespace: NAMESPACE, message: Buffer.from(MESSAGE) }))).toBe(
      ErrorCodes.AUTHN_SIGNATURE,
    );
  });

  it('flags changed after signing break the signature', () => {
    const sig = parseArmouredSshSig(key.sign(0));
    const tampered = Uint8Array.from(sig.signature);
    tampered[tampered.length - 5] = SK_FLAG_USER_PRESENT;
    expect(
      codeOf(() => verifySshSig({ ...sig, signature: tampered }, { namespace: NAMESPACE, message: Buffer.from(MESSAGE) })),
    ).toBe(ErrorCodes.AUTHN_SIGNATURE);
  });
});

it('the fixture keys are readable (sanity: ssh-keygen wrote what the tests read)', () => {
  expect(readFileSync(join(tmp.dir, 'ed25519.pub'), 'utf8')).toContain('ssh-ed25519 ');
});
