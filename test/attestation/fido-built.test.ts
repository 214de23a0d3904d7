import { randomBytes } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { readAttestationCertificate } from '../../src/attestation/attestation-certificate.ts';
import { verifyFidoAttestation } from '../../src/attestation/fido-attestation.ts';
import { derOctetString } from '../../src/x509/der-writer.ts';
import type { RootSet } from '../../src/attestation/root-set.ts';
import { ErrorCodes } from '../../src/errors.ts';
import { parseSshPublicKey } from '../../src/ssh/public-key.ts';
import { SshWriter } from '../../src/ssh/wire.ts';
import { enroll, extension, issue, testAuthenticator, testCa, type EnrollmentOptions, type TestAuthenticator } from '../support/attestation-builder.ts';
import { createMemorySigner } from '../support/memory-signer.ts';
import { codeOf } from '../support/error-codes.ts';

const now = new Date(Date.UTC(2026, 10, 23));
const challenge = randomBytes(32);
let authenticator: TestAuthenticator;
let roots: RootSet;

beforeAll(async () => {
  authenticator = await testAuthenticator();
  roots = { roots: [authenticator.root.certificate], intermediates: [] };
});

function verifyEnrollment(options: Partial<EnrollmentOptions> = {}, overrides: { challenge?: Uint8Array; roots?: RootSet; keyLine?: string } = {}) {
  const { blob, publicKeyLine } = enroll(authenticator, { challenge, ...options });
  const sshKey = parseSshPublicKey(overrides.keyLine ?? publicKeyLine);
  return verifyFidoAttestation({ blob, challenge: overrides.challenge ?? challenge, sshKey }, overrides.roots ?? roots, now);
}

describe('an ssh-sk-attest-v01 enrollment by a test authenticator', () => {
  it('verifies "packed" for an Ed25519 credential and "fido-u2f" for a P-256 one', () => {
    expect(verifyEnrollment()).toMatchObject({ kind: 'fido', attested: true, root: 'CN=Test FIDO Root', flags: { up: true, uv: true } });
    const u2f = verifyEnrollment({ keyKind: 'p256', format: 'fido-u2f', flags: 0x41 });
    expect(u2f).toMatchObject({ attested: true, flags: { up: true, uv: false } });
    expect(u2f.publicKey).toMatch(/^sk-ecdsa-sha2-nistp256@openssh\.com \S+$/);
    expect(verifyEnrollment({ keyKind: 'p256', format: 'packed' }).attested).toBe(true);
  });

  it('accepts a 32-byte challenge signed as the client data hash itself, as OpenSSH 8.4 to 8.6 enrolled, and no other length', () => {
    expect(verifyEnrollment({ rawChallenge: true }).attested).toBe(true);
    const long = randomBytes(64);
    const { blob, publicKeyLine } = enroll(authenticator, { challenge: long.subarray(0, 32), rawChallenge: true });
    expect(codeOf(() => verifyFidoAttestation({ blob, challenge: long, sshKey: parseSshPublicKey(publicKeyLine) }, roots, now))).toBe(ErrorCodes.ATTESTATION_CHALLENGE);
    expect(codeOf(() => verifyEnrollment({ rawChallenge: true }, { challenge: randomBytes(32) }))).toBe(ErrorCodes.ATTESTATION_CHALLENGE);
  });

  it('refuses another challenge than the one signed', () => {
    expect(codeOf(() => verifyEnrollment({}, { challenge: randomBytes(32) }))).toBe(ErrorCodes.ATTESTATION_CHALLENGE);
    expect(codeOf(() => verifyEnrollment({ keyKind: 'p256', format: 'fido-u2f' }, { challenge: randomBytes(32) }))).toBe(ErrorCodes.ATTESTATION_CHALLENGE);
  });

  it('refuses authenticator data for another application (RP ID hash) and without user presence', () => {
    expect(codeOf(() => verifyEnrollment({ rpApplication: 'ssh:other' }))).toBe(ErrorCodes.ATTESTATION_AUTHENTICATOR);
    expect(codeOf(() => verifyEnrollment({ flags: 0x44 }))).toBe(ErrorCodes.ATTESTATION_AUTHENTICATOR);
  });

  it('refuses a key other than the attested credential, and a plain (non-sk) key', () => {
    const other = enroll(authenticator, { challenge }).publicKeyLine;
    expect(codeOf(() => verifyEnrollment({}, { keyLine: other }))).toBe(ErrorCodes.ATTESTATION_KEY_MISMATCH);
    const plain = `ssh-ed25519 ${Buffer.from(new SshWriter().writeString('ssh-ed25519').writeString(Buffer.alloc(32, 9)).toBytes()).toString('base64')}`;
    expect(codeOf(() => verifyEnrollment({}, { keyLine: plain }))).toBe(ErrorCodes.ATTESTATION_KEY_MISMATCH);
  });

  it('refuses an attestation certificate that does not chain to the FIDO roots, or was altered', async () => {
    const stranger = await testCa('Test FIDO Root');
    expect(codeOf(() => verifyEnrollment({}, { roots: { roots: [stranger.certificate], intermediates: [] } }))).toBe(ErrorCodes.ATTESTATION_CHAIN);
    const der = Buffer.from(authenticator.certificate.der);
    const at = der.indexOf(Buffer.from('Test U2F EE Serial 1'));
    der[at + 19] = '2'.charCodeAt(0);
    const altered = { ...authenticator, certificate: readAttestationCertificate(der, 'altered') };
    const { blob, publicKeyLine } = enroll(altered, { challenge });
    expect(codeOf(() => verifyFidoAttestation({ blob, challenge, sshKey: parseSshPublicKey(publicKeyLine) }, roots, now))).toBe(ErrorCodes.ATTESTATION_CHAIN);
  });

  it('records fmt "none" as not attested, never as attested and never as an error', () => {
    const facts = verifyEnrollment({ format: 'none' });
    expect(facts).toEqual({ kind: 'fido', attested: false, flags: { up: true, uv: true }, publicKey: expect.stringMatching(/^sk-ssh-ed25519@openssh\.com /) });
    expect(facts.root).toBeUndefined();
  });

  it('refuses blobs that are not ssh-sk-attest-v01 as malformed', () => {
    const { blob, publicKeyLine } = enroll(authenticator, { challenge });
    const sshKey = parseSshPublicKey(publicKeyLine);
    const attempt = (bytes: Uint8Array) => codeOf(() => verifyFidoAttestation({ blob: bytes, challenge, sshKey }, roots, now));
    expect(attempt(blob.subarray(0, blob.length - 3))).toBe(ErrorCodes.ATTESTATION_MALFORMED);
    expect(attempt(Buffer.concat([blob, Buffer.of(0)]))).toBe(ErrorCodes.ATTESTATION_MALFORMED);
    const v00 = Buffer.from(blob);
    v00[v00.indexOf(Buffer.from('v01'))+ 2] = '0'.charCodeAt(0);
    expect(attempt(v00)).toBe(ErrorCodes.ATTESTATION_MALFORMED);
    expect(attempt(new SshWriter().writeString('ssh-sk-attest-v01').toBytes())).toBe(ErrorCodes.ATTESTATION_MALFORMED);
  });
});

describe('the AAGUID of a "packed" attestation against its certificate (id-fido-gen-ce-aaguid)', () => {
  // Real models' AAGUIDs (test/fixtures/attestation/PROVENANCE.md): YubiKey 5 NFC, YubiKey 5.
  const yk5nfc = Buffer.from('2fc0579f811347eab116bb5a8db9202a', 'hex');
  const yk5 = Buffer.from('fa2b99dc9e3942578f924a30d23c4118', 'hex');
  let nfc: TestAuthenticator;
  let nfcRoots: RootSet;

  beforeAll(async () => {
    nfc = await testAuthenticator({ aaguid: yk5nfc });
    nfcRoots = { roots: [nfc.root.certificate], intermediates: [] };
  });

  const verify = (by: TestAuthenticator, options: Partial<EnrollmentOptions>, withRoots: RootSet) => {
    const { blob, publicKeyLine } = enroll(by, { challenge, ...options });
    return verifyFidoAttestation({ blob, challenge, sshKey: parseSshPublicKey(publicKeyLine) }, withRoots, now);
  };

  it('accepts authenticator data naming the model the certificate is for', () => {
    expect(verify(nfc, { aaguid: yk5nfc }, nfcRoots)).toMatchObject({ attested: true, flags: { up: true, uv: true } });
  });

  it('refuses authenticator data naming another model, though the certificate signed it', () => {
    expect(codeOf(() => verify(nfc, { aaguid: yk5 }, nfcRoots))).toBe(ErrorCodes.ATTESTATION_AUTHENTICATOR);
    expect(codeOf(() => verify(nfc, { aaguid: Buffer.alloc(16) }, nfcRoots))).toBe(ErrorCodes.ATTESTATION_AUTHENTICATOR);
    expect(codeOf(() => verify(nfc, { keyKind: 'p256', format: 'packed', aaguid: yk5 }, nfcRoots))).toBe(ErrorCodes.ATTESTATION_AUTHENTICATOR);
  });

  it('"fido-u2f" signs no AAGUID and no flags: a zero AAGUID passes, and UV is never claimed', () => {
    expect(verify(nfc, { keyKind: 'p256', format: 'fido-u2f', aaguid: Buffer.alloc(16), flags: 0x45 }, nfcRoots)).toMatchObject({ attested: true, flags: { up: true, uv: false } });
  });

  it('a certificate without the extension has nothing to compare; a malformed one is refused', async () => {
    expect(verifyEnrollment({ aaguid: yk5 }).attested).toBe(true);
    const root = await testCa('Test FIDO Root');
    const signer = createMemorySigner({ kind: 'ecdsa', curve: 'P-256' });
    const certificate = await issue('Test U2F EE Serial 2', signer, root, { ca: false, extensions: [extension('1.3.6.1.4.1.45724.1.1.4', derOctetString(yk5.subarray(0, 15)))] });
    const malformed = { root, certificate, attestationKey: signer.privateKey };
    expect(codeOf(() => verify(malformed, {}, { roots: [root.certificate], intermediates: [] }))).toBe(ErrorCodes.ATTESTATION_MALFORMED);
  });
});
