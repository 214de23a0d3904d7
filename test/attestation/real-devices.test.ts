import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { readAttestationCertificate } from '../../src/attestation/attestation-certificate.ts';
import { verifyChain } from '../../src/attestation/certificate-chain.ts';
import { parseAuthenticatorData } from '../../src/attestation/authenticator-data.ts';
import { certificateAaguid, formatAaguid } from '../../src/attestation/fido-aaguid.ts';
import { verifyFidoAttestation } from '../../src/attestation/fido-attestation.ts';
import { parseSshSkAttestationBlob } from '../../src/attestation/ssh-sk-attestation-blob.ts';
import { parseGivenPublicKey } from '../../src/attestation/given-public-key.ts';
import { verifyPivAttestation } from '../../src/attestation/piv-attestation.ts';
import { verifyPivCsrAttestation } from '../../src/attestation/piv-csr-attestation.ts';
import { shippedAttestationTrust } from '../../src/attestation/shipped-roots.ts';
import { ErrorCodes } from '../../src/errors.ts';
import { parseSshPublicKey } from '../../src/ssh/public-key.ts';
import { codeOf } from '../support/error-codes.ts';

/** Real YubiKey data (test/fixtures/attestation/PROVENANCE.md); expected values from that file. */
const fixture = (name: string): Buffer => readFileSync(new URL(`../fixtures/attestation/${name}`, import.meta.url));
const certificate = (name: string) => readAttestationCertificate(fixture(name), name);
const trust = shippedAttestationTrust();
const now = new Date(Date.UTC(2026, 10, 23)); // PROVENANCE's "current time"

const PIV_ROOT = 'CN=Yubico PIV Root CA Serial 263751';
const U2F_ROOT = 'CN=Yubico U2F Root CA Serial 457200631';
const keychainA = { name: 'usb-a-keychain', fips: false, cspn: false };

const pivChains = [
  {
    slot: 'piv-go-5.x-9a-leaf.pem',
    f9: 'piv-go-5.x-f9-intermediate.pem',
    facts: { root: PIV_ROOT, firmware: '5.4.3', serial: 15732500, pinPolicy: 'once', touchPolicy: 'never', formFactor: { name: 'usb-c-nano', fips: false, cspn: false } },
    keyType: 'ecdsa-sha2-nistp256',
  },
  {
    // f9 under the U2F root, with no basicConstraints; the leaf has no serial and no form factor.
    slot: 'piv-go-2018-u2froot-9a-leaf.pem',
    f9: 'piv-go-2018-u2froot-f9-intermediate.pem',
    facts: { root: U2F_ROOT, firmware: '4.3.7', pinPolicy: 'once', touchPolicy: 'never' },
    keyType: 'ecdsa-sha2-nistp256',
  },
  {
    slot: 'tamemycerts-5.2.7-9a-leaf.pem',
    f9: 'tamemycerts-5.2.7-f9-intermediate.pem',
    facts: { root: PIV_ROOT, firmware: '5.2.7', serial: 15890263, pinPolicy: 'once', touchPolicy: 'never', formFactor: keychainA },
    keyType: 'ssh-rsa',
  },
  {
    slot: 'tamemycerts-5.7.2-9a-leaf.pem',
    f9: 'tamemycerts-5.7.2-f9-intermediate.pem',
    facts: { root: PIV_ROOT, firmware: '5.7.2', serial: 30000948, pinPolicy: 'once', touchPolicy: 'never', formFactor: { name: 'usb-c-bio', fips: false, cspn: false } },
    keyType: 'ssh-rsa',
  },
  {
    slot: 'tamemycerts-5.4.3-9a-leaf-1.pem',
    f9: 'tamemycerts-5.4.3-f9-intermediate.pem',
    facts: { root: PIV_ROOT, firmware: '5.4.3', serial: 19661687, pinPolicy: 'once', touchPolicy: 'cached', formFactor: keychainA },
    keyType: 'ecdsa-sha2-nistp384',
  },
  {
    slot: 'tamemycerts-5.4.3-9a-leaf-2.pem',
    f9: 'tamemycerts-5.4.3-f9-intermediate.pem',
    facts: { root: PIV_ROOT, firmware: '5.4.3', serial: 19661687, pinPolicy: 'once', touchPolicy: 'cached', formFactor: keychainA },
    keyType: 'ecdsa-sha2-nistp384',
  },
];

describe('real YubiKey PIV attestations', () => {
  it.each(pivChains)('$slot verifies to its root and decodes to the recorded device facts', ({ slot, f9, facts, keyType }) => {
    const result = verifyPivAttestation({ slot: certificate(slot), f9: certificate(f9) }, trust.piv, now);
    expect(result).toEqual({ kind: 'piv', attested: true, ...facts, publicKey: expect.stringMatching(new RegExp(`^${keyType} \\S+$`)) });
  });

  it('accepts the slot key as an authorized_keys line and as a PEM public key, and refuses another key', () => {
    const slot = certificate('piv-go-5.x-9a-leaf.pem');
    const f9 = certificate('piv-go-5.x-f9-intermediate.pem');
    const { publicKey } = verifyPivAttestation({ slot, f9 }, trust.piv, now);
    const pem = slot.x509.publicKey.export({ type: 'spki', format: 'pem' }).toString();
    expect(verifyPivAttestation({ slot, f9, expectedKey: parseGivenPublicKey(publicKey) }, trust.piv, now).attested).toBe(true);
    expect(verifyPivAttestation({ slot, f9, expectedKey: parseGivenPublicKey(pem) }, trust.piv, now).attested).toBe(true);
    const other = verifyPivAttestation({ slot: certificate('tamemycerts-5.4.3-9a-leaf-1.pem'), f9: certificate('tamemycerts-5.4.3-f9-intermediate.pem') }, trust.piv, now);
    expect(codeOf(() => verifyPivAttestation({ slot, f9, expectedKey: parseGivenPublicKey(other.publicKey) }, trust.piv, now))).toBe(
      ErrorCodes.ATTESTATION_KEY_MISMATCH,
    );
  });

  it("refuses a slot certificate paired with another device's f9 (piv-go's InvalidChain cases)", () => {
    const pairs = [
      ['piv-go-5.x-9a-leaf.pem', 'piv-go-2018-u2froot-f9-intermediate.pem'],
      ['piv-go-2018-u2froot-9a-leaf.pem', 'piv-go-5.x-f9-intermediate.pem'],
      ['tamemycerts-5.7.2-9a-leaf.pem', 'tamemycerts-5.2.7-f9-intermediate.pem'],
    ] as const;
    for (const [slot, f9] of pairs) {
      expect(codeOf(() => verifyPivAttestation({ slot: certificate(slot), f9: certificate(f9) }, trust.piv, now))).toBe(ErrorCodes.ATTESTATION_CHAIN);
    }
  });

  it('refuses a chain shifted one step up: an f9 given as the slot, a Yubico root or intermediate as the f9', () => {
    const pivRoot = trust.piv.roots.find((root) => root.name === PIV_ROOT);
    const pivA = trust.piv.intermediates.find((c) => c.name === 'CN=Yubico PIV Attestation A 1');
    const intermediateA = trust.piv.intermediates.find((c) => c.name.endsWith('CN=Yubico Attestation Intermediate A 1'));
    expect(pivRoot && pivA && intermediateA).toBeTruthy();
    const shifted = [
      [certificate('piv-go-5.x-f9-intermediate.pem'), pivRoot],
      [pivA, intermediateA],
    ] as const;
    for (const [slot, f9] of shifted) {
      expect(codeOf(() => verifyPivAttestation({ slot: slot!, f9: f9! }, trust.piv, now))).toBe(ErrorCodes.ATTESTATION_CHAIN);
    }
  });

  it.each([
    ['tamemycerts-csr-5.2.7.pem', 'tamemycerts-5.2.7-9a-leaf.pem'],
    ['tamemycerts-csr-5.7.2.pem', 'tamemycerts-5.7.2-9a-leaf.pem'],
    ['tamemycerts-csr-5.4.3-1.pem', 'tamemycerts-5.4.3-9a-leaf-1.pem'], // slot certificate in .3.1
    ['tamemycerts-csr-5.4.3-2.pem', 'tamemycerts-5.4.3-9a-leaf-2.pem'],
  ])('%s carries its attestation and decodes as the slot certificate it embeds', (csr, slot) => {
    const fromCsr = verifyPivCsrAttestation(fixture(csr).toString('utf8'), trust.piv, now);
    const pair = pivChains.find((chain) => chain.slot === slot);
    expect(fromCsr).toMatchObject({ kind: 'piv', attested: true, ...pair?.facts });
    expect(fromCsr.publicKey).toBe(verifyPivAttestation({ slot: certificate(slot), f9: certificate(pair?.f9 ?? '') }, trust.piv, now).publicKey);
    const stranger = verifyPivAttestation({ slot: certificate('piv-go-5.x-9a-leaf.pem'), f9: certificate('piv-go-5.x-f9-intermediate.pem') }, trust.piv, now);
    expect(codeOf(() => verifyPivCsrAttestation(fixture(csr), trust.piv, now, parseGivenPublicKey(stranger.publicKey)))).toBe(ErrorCodes.ATTESTATION_KEY_MISMATCH);
  });
});

describe('real YubiKey FIDO attestations', () => {
  const blob = fixture('ssh-sk-ed25519-yk5nfc-A.attestation.bin');
  const challenge = fixture('ssh-sk-ed25519-yk5nfc-A.challenge.bin');
  const sshKey = parseSshPublicKey(fixture('ssh-sk-ed25519-yk5nfc-A.pub').toString('utf8'));

  it('verifies the ssh-sk-attest-v01 blob against its challenge and key: U2F root, UP and UV', () => {
    expect(verifyFidoAttestation({ blob, challenge, sshKey }, trust.fido, now)).toEqual({
      kind: 'fido',
      attested: true,
      root: U2F_ROOT,
      flags: { up: true, uv: true },
      publicKey: `sk-ssh-ed25519@openssh.com ${Buffer.from(sshKey.blob).toString('base64')}`,
    });
  });

  it('refuses the mismatched key, another challenge, and the raw challenge used as the client data hash', () => {
    const mismatch = parseSshPublicKey(fixture('ssh-sk-ed25519-mismatch-for-A.pub').toString('utf8'));
    expect(codeOf(() => verifyFidoAttestation({ blob, challenge, sshKey: mismatch }, trust.fido, now))).toBe(ErrorCodes.ATTESTATION_KEY_MISMATCH);
    const other = Buffer.from(challenge);
    other[0] = (other[0] ?? 0) ^ 1;
    expect(codeOf(() => verifyFidoAttestation({ blob, challenge: other, sshKey }, trust.fido, now))).toBe(ErrorCodes.ATTESTATION_CHALLENGE);
    expect(codeOf(() => verifyFidoAttestation({ blob, challenge: new Uint8Array(), sshKey }, trust.fido, now))).toBe(ErrorCodes.ATTESTATION_CHALLENGE);
  });

  it("is checked for its model: the authenticator data's AAGUID is its certificate's, the YubiKey 5 NFC's", () => {
    // The blob verified above passes the AAGUID check; these are the two values it compared.
    const parsed = parseSshSkAttestationBlob(blob);
    const named = certificateAaguid(readAttestationCertificate(parsed.certificate, 'the blob certificate'));
    expect(named === undefined ? undefined : formatAaguid(named)).toBe('2fc0579f-8113-47ea-b116-bb5a8db9202a');
    expect(formatAaguid(parseAuthenticatorData(parsed.authenticatorData).aaguid)).toBe('2fc0579f-8113-47ea-b116-bb5a8db9202a');
  });

  it.each([
    ['webauthn-yubico-u2f-ee-yk5-61730834.pem', 'fa2b99dc-9e39-4257-8f92-4a30d23c4118'],
    ['webauthn-yubico-u2f-ee-yk5nano-413943488.pem', 'cb69481e-8ff7-4039-93ec-0a2729a154a8'],
    ['webauthn-yubico-u2f-ee-yk5ci-737246328.pem', 'c5ef55ff-ad9a-4b9f-b580-adebafe026d0'],
    ['webauthn-yubico-u2f-ee-securitykey-1955003842.pem', 'f8a011f3-8c0a-4d15-8006-17111f9edc7d'],
    ['webauthn-yubico-u2f-ee-yk5nfc-fips-1713722333.pem', 'c1f9a0bc-1dd2-404a-b27f-8e29047a43fd'],
    ['webauthn-yubico-u2f-ee-yk5ci-fips-2014804379.pem', '85203421-48f9-4355-9bc8-8a53846e5083'],
    ['webauthn-yubico-u2f-ee-ykbio-5.5.4-1049544373.pem', 'd8522d9f-575b-4866-88a9-ba99fa02f35b'],
  ])('%s names AAGUID %s (PROVENANCE)', (name, aaguid) => {
    const named = certificateAaguid(certificate(name));
    expect(named === undefined ? undefined : formatAaguid(named)).toBe(aaguid);
  });

  it('refuses the blob when the FIDO root set does not hold the U2F root', () => {
    const withoutU2f = { roots: trust.fido.roots.filter((root) => root.name !== U2F_ROOT), intermediates: trust.fido.intermediates };
    expect(codeOf(() => verifyFidoAttestation({ blob, challenge, sshKey }, withoutU2f, now))).toBe(ErrorCodes.ATTESTATION_CHAIN);
  });

  it.each([
    'yubico-u2f-ee-512722740-from-ssh-sk-attest.pem',
    'webauthn-yubico-u2f-ee-yk5-61730834.pem',
    'webauthn-yubico-u2f-ee-yk5nano-413943488.pem',
    'webauthn-yubico-u2f-ee-yk5ci-737246328.pem',
    'webauthn-yubico-u2f-ee-securitykey-1955003842.pem',
    'webauthn-yubico-u2f-ee-yk5nfc-fips-1713722333.pem',
    'webauthn-yubico-u2f-ee-yk5ci-fips-2014804379.pem',
    'webauthn-yubico-u2f-ee-ykbio-5.5.4-1049544373.pem',
    'webauthn-yubico-u2f-ee-ykbio-5.5.6-762087423.pem',
  ])('%s chains to the shipped U2F root', (name) => {
    expect(verifyChain([certificate(name)], trust.fido, now).name).toBe(U2F_ROOT);
  });
});

describe('the shipped roots', () => {
  it('chain the 2024 PIV intermediates up to Yubico Attestation Root 1', () => {
    const pivA = trust.piv.intermediates.find((c) => c.name === 'CN=Yubico PIV Attestation A 1');
    const pivB = trust.piv.intermediates.find((c) => c.name === 'CN=Yubico PIV Attestation B 1');
    expect(pivA && verifyChain([pivA], trust.piv, now).name).toMatch(/CN=Yubico Attestation Root 1$/);
    expect(pivB && verifyChain([pivB], trust.piv, now).name).toMatch(/CN=Yubico Attestation Root 1$/);
  });
});
