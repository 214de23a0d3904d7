import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Signer, SignOptions } from '../../src/keys/signer.ts';
import { ErrorCodes, isJitcaError, type ErrorCode } from '../../src/errors.ts';
import { buildUserCertificate, parseCertificate, type UserCertificateParams } from '../../src/ssh/certificate.ts';
import { parseSshPublicKey, sshPublicKeyFromKeyObject, type SshPublicKey } from '../../src/ssh/public-key.ts';
import { SshReader, SshWriter } from '../../src/ssh/wire.ts';
import { createMemorySigner } from '../support/memory-signer.ts';
import { IDENTITY_KEY, WEAK_ED25519_KEYS } from '../support/weak-ed25519.ts';

const TESTDATA = '/work/shared/testdata';
const REAL_CERT = readFileSync(`${TESTDATA}/ssh-sk-ed25519-yk5nfc-A-cert.pub`, 'utf8');
const REAL_KEY = readFileSync(`${TESTDATA}/ssh-sk-ed25519-yk5nfc-A.pub`, 'utf8');

function ed25519Subject(comment = 'alice@laptop'): SshPublicKey {
  const key = sshPublicKeyFromKeyObject(generateKeyPairSync('ed25519').publicKey);
  return { ...key, comment };
}

/** Counts sign() calls so bad-input tests can prove nothing was signed. */
function countingSigner(inner: Signer): Signer & { calls: number } {
  const wrapper = {
    keyId: inner.keyId,
    algorithm: inner.algorithm,
    publicKey: inner.publicKey,
    spki: inner.spki,
    calls: 0,
    async sign(data: Uint8Array, options?: SignOptions): Promise<Uint8Array> {
      wrapper.calls++;
      return inner.sign(data, options);
    },
  };
  return wrapper;
}

function baseParams(subject: SshPublicKey): UserCertificateParams {
  return {
    subject,
    serial: 77n,
    keyId: 'alice@example.com req-1',
    principals: ['alice'],
    validAfter: 1_800_000_000n,
    validBefore: 1_800_000_600n,
    criticalOptions: { forceCommand: 'kubectl-debug', sourceAddresses: ['10.1.0.0/16'], verifyRequired: false },
    extensions: ['permit-pty'],
    customExtensions: { 'scope-cluster@jitca.dev': 'prod' },
  };
}

async function expectRejected(promise: Promise<unknown>, code: ErrorCode): Promise<void> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isJitcaError(error), `expected ${code}, got ${String(error)}`).toBe(true);
  expect((error as { code: string }).code).toBe(code);
}

function expectCode(fn: () => unknown, code: ErrorCode): void {
  let thrown: unknown;
  try {
    fn();
  } catch (error) {
    thrown = error;
  }
  expect(isJitcaError(thrown), `expected ${code}, got ${String(thrown)}`).toBe(true);
  expect((thrown as { code: string }).code).toBe(code);
}

let ca: ReturnType<typeof createMemorySigner>;
let subject: SshPublicKey;

beforeAll(() => {
  ca = createMemorySigner({ kind: 'ed25519' }, 'ssh-user-ca/1');
  subject = ed25519Subject();
});

describe('buildUserCertificate', () => {
  it('writes every requested field and parseCertificate reads them back with a valid signature', async () => {
    const params: UserCertificateParams = {
      ...baseParams(subject),
      principals: ['alice', 'oncall'],
      criticalOptions: { forceCommand: 'kubectl-debug', sourceAddresses: ['10.1.0.0/16', '::1'], verifyRequired: true },
      extensions: ['permit-pty', 'permit-agent-forwarding', 'flag@jitca.dev'],
      customExtensions: { 'scope-cluster@jitca.dev': 'prod', 'scope-namespace@jitca.dev': '' },
    };
    const issued = await buildUserCertificate(params, ca);
    expect(issued.type).toBe('ssh-ed25519-cert-v01@openssh.com');
    expect(issued.line).toBe(`${issued.type} ${Buffer.from(issued.blob).toString('base64')} alice@laptop`);
    const cert = parseCertificate(issued.line);
    expect(cert).toMatchObject({
      type: issued.type,
      comment: 'alice@laptop',
      serial: 77n,
      certType: 'user',
      keyId: params.keyId,
      principals: ['alice', 'oncall'],
      validAfter: params.validAfter,
      validBefore: params.validBefore,
      criticalOptions: params.criticalOptions,
      unrecognizedCriticalOptions: [],
      extensions: ['flag@jitca.dev', 'permit-agent-forwarding', 'permit-pty'],
      customExtensions: params.customExtensions,
      signatureAlgorithm: 'ssh-ed25519',
      signatureValid: true,
    });
    expect(cert.nonce).toHaveLength(32);
    expect(cert.key.fingerprint).toBe(subject.fingerprint);
    expect(cert.signatureKey.fingerprint).toBe(sshPublicKeyFromKeyObject(ca.publicKey).fingerprint);
    expect(cert.reserved).toHaveLength(0);
    expect(cert.criticalOptionList.map((o) => o.name)).toEqual(['force-command', 'source-address', 'verify-required']);
  });

  it('omits verify-required when false and uses a fresh random nonce per certificate', async () => {
    const a = parseCertificate((await buildUserCertificate(baseParams(subject), ca)).blob);
    const b = parseCertificate((await buildUserCertificate(baseParams(subject), ca)).blob);
    expect(a.criticalOptions).toEqual({ forceCommand: 'kubectl-debug', sourceAddresses: ['10.1.0.0/16'] });
    expect(Buffer.from(a.nonce).equals(Buffer.from(b.nonce))).toBe(false);
  });

  it('is deterministic for a fixed nonce with an Ed25519 CA (nothing else random goes in)', async () => {
    const nonce = new Uint8Array(32).fill(9);
    const a = await buildUserCertificate({ ...baseParams(subject), nonce }, ca);
    const b = await buildUserCertificate({ ...baseParams(subject), nonce }, ca);
    expect(a.blob).toEqual(b.blob);
  });

  it.each([
    ['ECDSA P-256', { kind: 'ecdsa', curve: 'P-256' }, 'ecdsa-sha2-nistp256'],
    ['ECDSA P-384', { kind: 'ecdsa', curve: 'P-384' }, 'ecdsa-sha2-nistp384'],
    ['RSA-3072', { kind: 'rsa', bits: 3072 }, 'rsa-sha2-512'],
  ] as const)('signs with a %s CA using %s', async (_name, algorithm, sigAlg) => {
    const signer = createMemorySigner(algorithm);
    const cert = parseCertificate((await buildUserCertificate(baseParams(subject), signer)).line);
    expect(cert.signatureAlgorithm).toBe(sigAlg);
    expect(cert.signatureValid).toBe(true);
  });

  it('certifies the real YubiKey sk-ssh-ed25519 key, keeping its application', async () => {
    const key = parseSshPublicKey(REAL_KEY);
    const cert = parseCertificate((await buildUserCertificate(baseParams(key), ca)).line);
    expect(cert.type).toBe('sk-ssh-ed25519-cert-v01@openssh.com');
    expect(cert.key).toMatchObject({ fingerprint: key.fingerprint, application: 'ssh:', isSecurityKey: true });
  });

  it('round-trips random valid requests exactly', async () => {
    const principal = fc.stringMatching(/^[a-z_][a-z0-9_.-]{0,15}$/);
    const customName = fc.stringMatching(/^[a-z][a-z0-9-]{0,10}@[a-z]{1,8}\.dev$/);
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(principal, { minLength: 1, maxLength: 5 }),
        fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
        fc.bigInt({ min: 0n, max: (1n << 63n) }),
        fc.bigInt({ min: 1n, max: 1n << 40n }),
        fc.subarray(['permit-pty', 'permit-user-rc', 'permit-X11-forwarding', 'no-touch-required']),
        fc.dictionary(customName, fc.string({ maxLength: 30 }).filter((v) => !v.includes('\0')), { maxKeys: 3 }),
        fc.string({ minLength: 1, maxLength: 40 }).filter((v) => !/[\u0000-\u001f\u007f]/.test(v)),
        async (principals, serial, validAfter, lifetime, extensions, customExtensions, keyId) => {
          const params: UserCertificateParams = {
            subject,
            serial,
            keyId,
            principals,
            validAfter,
            validBefore: validAfter + lifetime,
            extensions,
            customExtensions,
          };
          const cert = parseCertificate((await buildUserCertificate(params, ca)).blob);
          expect(cert.signatureValid).toBe(true);
          expect(cert).toMatchObject({ serial, keyId, principals, validAfter, validBefore: params.validBefore, customExtensions });
          expect(cert.extensions).toEqual([...extensions].sort());
          expect(cert.criticalOptions).toEqual({});
        },
      ),
      { numRuns: 60 },
    );
  });
});

describe('buildUserCertificate refuses invalid requests (ERR_REQUEST_INVALID) without signing', () => {
  const cases: [string, (p: UserCertificateParams) => UserCertificateParams][] = [
    ['no principals', (p) => ({ ...p, principals: [] })],
    ['a principal with a comma', (p) => ({ ...p, principals: ['alice,root'] })],
    ['a principal with a newline', (p) => ({ ...p, principals: ['alice\nroot'] })],
    ['a principal with NUL', (p) => ({ ...p, principals: ['alice\0'] })],
    ['an empty principal', (p) => ({ ...p, principals: [''] })],
    ['a duplicated principal', (p) => ({ ...p, principals: ['alice', 'alice'] })],
    ['257 principals', (p) => ({ ...p, principals: Array.from({ length: 257 }, (_, i) => `u${i}`) })],
    ['validAfter == validBefore', (p) => ({ ...p, validBefore: p.validAfter })],
    ['validAfter > validBefore', (p) => ({ ...p, validAfter: p.validBefore + 1n })],
    ['validBefore beyond uint64', (p) => ({ ...p, validBefore: 1n << 64n })],
    ['a negative serial', (p) => ({ ...p, serial: -1n })],
    ['a serial of 2^64', (p) => ({ ...p, serial: 1n << 64n })],
    ['a serial that is a number', (p) => ({ ...p, serial: 5 as unknown as bigint })],
    ['an empty key id', (p) => ({ ...p, keyId: '' })],
    ['a key id with a newline', (p) => ({ ...p, keyId: 'alice\nFAKE LOG LINE' })],
    ['an unknown extension', (p) => ({ ...p, extensions: ['permit-everything'] })],
    ['an extension listed twice', (p) => ({ ...p, extensions: ['permit-pty', 'permit-pty'] })],
    ['a custom extension without a domain', (p) => ({ ...p, customExtensions: { 'scope-cluster': 'x' } })],
    ['the same name as flag and value', (p) => ({ ...p, extensions: ['x@jitca.dev'], customExtensions: { 'x@jitca.dev': 'v' } })],
    ['a custom value with NUL', (p) => ({ ...p, customExtensions: { 'x@jitca.dev': 'a\0b' } })],
    ['source-address with host bits set', (p) => ({ ...p, criticalOptions: { sourceAddresses: ['10.0.0.1/8'] } })],
    ['source-address that is a hostname', (p) => ({ ...p, criticalOptions: { sourceAddresses: ['example.com'] } })],
    ['source-address out of range', (p) => ({ ...p, criticalOptions: { sourceAddresses: ['300.1.1.1/32'] } })],
    ['source-address mask too long', (p) => ({ ...p, criticalOptions: { sourceAddresses: ['2001:db8::/129'] } })],
    ['an empty source-address list', (p) => ({ ...p, criticalOptions: { sourceAddresses: [] } })],
    ['an empty force-command', (p) => ({ ...p, criticalOptions: { forceCommand: '' } })],
    ['a 4-byte nonce', (p) => ({ ...p, nonce: new Uint8Array(4) })],
    ['a subject whose type does not match its blob', (p) => ({ ...p, subject: { ...p.subject, type: 'ssh-rsa' } })],
  ];

  it.each(cases)('%s', async (_name, mutate) => {
    const signer = countingSigner(ca);
    await expectRejected(buildUserCertificate(mutate(baseParams(subject)), signer), ErrorCodes.REQUEST_INVALID);
    expect(signer.calls).toBe(0);
  });

  it('a subject key that is the Ed25519 identity is refused with ERR_KEY_INVALID_POINT', async () => {
    const signer = countingSigner(ca);
    const blob = new SshWriter().writeString('ssh-ed25519').writeString(IDENTITY_KEY).toBytes();
    await expectRejected(buildUserCertificate({ ...baseParams(subject), subject: { ...subject, blob } }, signer), ErrorCodes.KEY_INVALID_POINT);
    expect(signer.calls).toBe(0);
  });

  it('a subject blob that is not a valid key is refused with its key error', async () => {
    const signer = countingSigner(ca);
    const blob = subject.blob.slice(0, subject.blob.length - 1);
    await expectRejected(buildUserCertificate({ ...baseParams(subject), subject: { ...subject, blob } }, signer), ErrorCodes.WIRE_TRUNCATED);
    expect(signer.calls).toBe(0);
  });
});

describe('buildUserCertificate and a faulty signer (ERR_HSM_FAILURE)', () => {
  it('refuses a signature of the wrong size', async () => {
    const signer: Signer = { ...ca, sign: async () => new Uint8Array(63) };
    await expectRejected(buildUserCertificate(baseParams(subject), signer), ErrorCodes.HSM_FAILURE);
  });

  it('refuses a well-sized signature that does not verify', async () => {
    const p256 = createMemorySigner({ kind: 'ecdsa', curve: 'P-256' });
    const signer: Signer = { ...p256, sign: async (data, options) => p256.sign(Uint8Array.from([...data, 0]), options) };
    await expectRejected(buildUserCertificate(baseParams(subject), signer), ErrorCodes.HSM_FAILURE);
  });
});

/** Re-assembles a signed certificate from parts, to produce inputs our builder never would. */
async function assemble(overrides: {
  type?: string;
  certType?: number;
  principals?: Uint8Array;
  critical?: [string, Uint8Array][];
  extensions?: [string, Uint8Array][];
  signatureKey?: Uint8Array;
  validAfter?: bigint;
  trailing?: Uint8Array;
}): Promise<Uint8Array> {
  const keyReader = new SshReader(subject.blob);
  keyReader.readString();
  const keyFields = keyReader.readBytes(keyReader.remaining);
  const options = (list: [string, Uint8Array][]): Uint8Array => {
    const w = new SshWriter();
    for (const [name, data] of list) w.writeString(name).writeString(data);
    return w.toBytes();
  };
  const caBlob = sshPublicKeyFromKeyObject(ca.publicKey).blob;
  const writer = new SshWriter()
    .writeString(overrides.type ?? 'ssh-ed25519-cert-v01@openssh.com')
    .writeString(new Uint8Array(32))
    .writeRaw(keyFields)
    .writeUint64(1n)
    .writeUint32(overrides.certType ?? 1)
    .writeString('id')
    .writeString(overrides.principals ?? new SshWriter().writeString('alice').toBytes())
    .writeUint64(overrides.validAfter ?? 100n)
    .writeUint64(200n)
    .writeString(options(overrides.critical ?? []))
    .writeString(options(overrides.extensions ?? []))
    .writeString(new Uint8Array(0))
    .writeString(overrides.signatureKey ?? caBlob);
  const signed = writer.toBytes();
  const signature = new SshWriter().writeString('ssh-ed25519').writeString(await ca.sign(signed)).toBytes();
  return new SshWriter()
    .writeRaw(signed)
    .writeString(signature)
    .writeRaw(overrides.trailing ?? new Uint8Array(0))
    .toBytes();
}

const flag = new Uint8Array(0);
const str = (value: string): Uint8Array => new SshWriter().writeString(value).toBytes();

describe('parseCertificate', () => {
  it('parses the real certificate made by smallstep ssh-attest-proxy for a YubiKey sk key', () => {
    const cert = parseCertificate(REAL_CERT);
    expect(cert).toMatchObject({
      type: 'sk-ssh-ed25519-cert-v01@openssh.com',
      serial: 1n,
      certType: 'user',
      keyId: 'key-attestation',
      principals: ['carl'],
      validAfter: BigInt(Date.parse('2025-04-21T17:53:34Z') / 1000),
      validBefore: BigInt(Date.parse('2026-04-21T17:53:34Z') / 1000),
      criticalOptions: {},
      extensions: [],
      signatureAlgorithm: 'ssh-ed25519',
      signatureValid: true,
    });
    expect(cert.signatureKey.fingerprint).toBe('SHA256:vCCT3u4AzapPxn9sycGDaTH/sDx7LDBAu7WmubnE5LE');
    expect(cert.key.fingerprint).toBe(parseSshPublicKey(REAL_KEY).fingerprint);
    expect(Object.keys(cert.customExtensions)).toEqual(['ssh-sk-attest-v01@openssh.com']);
  });

  it('accepts a hand-assembled certificate and reports unknown critical options and host type', async () => {
    const cert = parseCertificate(await assemble({ certType: 2, critical: [['deny-all@example.com', flag]] }));
    expect(cert.signatureValid).toBe(true);
    expect(cert.certType).toBe('host');
    expect(cert.unrecognizedCriticalOptions).toEqual(['deny-all@example.com']);
  });

  it('keeps an extension whose data is not one string only in the raw list', async () => {
    const odd = Uint8Array.from([1, 2, 3]);
    const cert = parseCertificate(await assemble({ extensions: [['odd@example.com', odd]] }));
    expect(cert.customExtensions).toEqual({});
    expect(cert.extensionList).toEqual([{ name: 'odd@example.com', data: odd }]);
  });

  it.each([
    ['extensions out of order', { extensions: [['permit-pty', flag], ['permit-X11-forwarding', flag]] }],
    ['a duplicated extension', { extensions: [['permit-pty', flag], ['permit-pty', flag]] }],
    ['critical options out of order', { critical: [['verify-required', flag], ['force-command', str('x')]] }],
    ['force-command data that is not a string', { critical: [['force-command', Uint8Array.from([0, 0, 0, 9])]] }],
    ['source-address with host bits set', { critical: [['source-address', str('192.0.2.1/24')]] }],
    ['verify-required with data', { critical: [['verify-required', str('yes')]] }],
    ['certificate type 3', { certType: 3 }],
    ['valid-after not before valid-before', { validAfter: 200n }],
    ['an empty principal', { principals: str('') }],
    ['a principal with a comma', { principals: str('alice,root') }],
  ] as const)('rejects %s (ERR_WIRE_INVALID)', async (_name, overrides) => {
    const blob = await assemble(overrides as Parameters<typeof assemble>[0]);
    expectCode(() => parseCertificate(blob), ErrorCodes.WIRE_INVALID);
  });

  it('rejects trailing bytes (ERR_WIRE_TRAILING_BYTES) and truncation (ERR_WIRE_TRUNCATED)', async () => {
    const trailing = await assemble({ trailing: Uint8Array.from([0]) });
    expectCode(() => parseCertificate(trailing), ErrorCodes.WIRE_TRAILING_BYTES);
    const good = await assemble({});
    expectCode(() => parseCertificate(good.subarray(0, good.length - 1)), ErrorCodes.WIRE_TRUNCATED);
  });

  it('rejects a chained certificate (signature key is itself a certificate) with ERR_KEY_UNSUPPORTED', async () => {
    const parentCert = (await buildUserCertificate(baseParams(subject), ca)).blob;
    const chained = await assemble({ signatureKey: parentCert });
    expectCode(() => parseCertificate(chained), ErrorCodes.KEY_UNSUPPORTED);
  });

  it('rejects a plain key, unknown certificate types, a type mismatch, junk and oversized input', async () => {
    expectCode(() => parseCertificate(REAL_KEY), ErrorCodes.KEY_UNSUPPORTED);
    expectCode(() => parseCertificate(subject.blob), ErrorCodes.KEY_UNSUPPORTED);
    const dss = await assemble({ type: 'ssh-dss-cert-v01@openssh.com' });
    expectCode(() => parseCertificate(dss), ErrorCodes.KEY_UNSUPPORTED);
    const line = (await buildUserCertificate(baseParams(subject), ca)).line;
    expectCode(() => parseCertificate(line.replace('ssh-ed25519-cert', 'ssh-rsa-cert')), ErrorCodes.KEY_MALFORMED);
    expectCode(() => parseCertificate(line.replace(/ \S+ /, ' AAAA!!!! ')), ErrorCodes.KEY_MALFORMED);
    expectCode(() => parseCertificate(`${line} ${'x'.repeat(64 * 1024)}`), ErrorCodes.INPUT_TOO_LARGE);
  });

  it('rejects a certified key or CA key that is a small-order Ed25519 point with ERR_KEY_INVALID_POINT', async () => {
    const blob = (await buildUserCertificate(baseParams(subject), ca)).blob;
    const keyOffset = 4 + 'ssh-ed25519-cert-v01@openssh.com'.length + 4 + 32 + 4; // type, nonce, key length
    for (const { key } of WEAK_ED25519_KEYS) {
      const weakSubject = blob.slice();
      weakSubject.set(key, keyOffset);
      expectCode(() => parseCertificate(weakSubject), ErrorCodes.KEY_INVALID_POINT);
    }
    const identityCa = new SshWriter().writeString('ssh-ed25519').writeString(IDENTITY_KEY).toBytes();
    const signedByIdentity = await assemble({ signatureKey: identityCa });
    expectCode(() => parseCertificate(signedByIdentity), ErrorCodes.KEY_INVALID_POINT);
  });

  it('reports signatureValid false when any signed byte changed', async () => {
    const blob = (await buildUserCertificate(baseParams(subject), ca)).blob;
    const serialOffset = 4 + 'ssh-ed25519-cert-v01@openssh.com'.length + 4 + 32 + 4 + 32; // type, nonce, pk
    const tampered = blob.slice();
    tampered[serialOffset + 7] = (tampered[serialOffset + 7] ?? 0) ^ 0x01;
    const cert = parseCertificate(tampered);
    expect(cert.serial).toBe(77n ^ 1n);
    expect(cert.signatureValid).toBe(false);
  });
});

describe('parseCertificate never throws anything but a JitcaError', () => {
  function onlyJitcaErrors(input: string | Uint8Array): void {
    try {
      parseCertificate(input);
    } catch (error) {
      if (!isJitcaError(error)) throw error;
    }
  }

  it('on random bytes and text', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 400 }), onlyJitcaErrors), { numRuns: 2000 });
    fc.assert(fc.property(fc.string({ maxLength: 200 }), onlyJitcaErrors), { numRuns: 500 });
  });

  it('on real certificates with bytes changed, cut or appended', async () => {
    const seeds = [
      (await buildUserCertificate(baseParams(subject), ca)).blob,
      (await buildUserCertificate(baseParams(subject), createMemorySigner({ kind: 'ecdsa', curve: 'P-256' }))).blob,
      (await buildUserCertificate(baseParams(subject), createMemorySigner({ kind: 'rsa', bits: 2048 }))).blob,
      parseCertificate(REAL_CERT).blob,
    ];
    fc.assert(
      fc.property(
        fc.constantFrom(...seeds),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }),
        fc.nat(),
        fc.uint8Array({ maxLength: 8 }),
        (seed, edits, cut, extra) => {
          const blob = seed.slice();
          for (const [position, value] of edits) blob[position % blob.length] = value;
          onlyJitcaErrors(Uint8Array.from([...blob.subarray(0, blob.length - (cut % 16)), ...extra]));
        },
      ),
      { numRuns: 1500 },
    );
  });
});
