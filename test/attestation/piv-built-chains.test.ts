import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readAttestationCertificate, type AttestationCertificate } from '../../src/attestation/attestation-certificate.ts';
import { parseGivenPublicKey } from '../../src/attestation/given-public-key.ts';
import { verifyPivAttestation } from '../../src/attestation/piv-attestation.ts';
import { verifyPivCsrAttestation } from '../../src/attestation/piv-csr-attestation.ts';
import type { RootSet } from '../../src/attestation/root-set.ts';
import { decodeYubicoPivExtensions } from '../../src/attestation/yubico-piv-extensions.ts';
import { ErrorCodes } from '../../src/errors.ts';
import { formatAuthorizedKeysLine, sshPublicKeyFromKeyObject } from '../../src/ssh/public-key.ts';
import { pivChain, testCa, type PivChain } from '../support/attestation-builder.ts';
import { codeOf } from '../support/error-codes.ts';
import { opensslOk } from '../x509/openssl.ts';

const now = new Date(Date.UTC(2026, 10, 23));
let chain: PivChain;
let trust: RootSet;

beforeAll(async () => {
  chain = await pivChain();
  trust = { roots: [chain.root.certificate], intermediates: [chain.intermediate.certificate] };
});

const verify = (slot: AttestationCertificate, f9: AttestationCertificate, roots: RootSet = trust, expectedKey?: KeyObject) =>
  verifyPivAttestation({ slot, f9, ...(expectedKey ? { expectedKey: { form: 'pem' as const, publicKey: expectedKey } } : {}) }, roots, now);

/** The certificate with one byte of its signed part changed: the firmware's patch level 4 -> 5. */
function tampered(certificate: AttestationCertificate): AttestationCertificate {
  const der = Buffer.from(certificate.der);
  const at = der.indexOf(Buffer.of(0x04, 0x03, 5, 7, 4));
  der[at + 4] = 5;
  return readAttestationCertificate(der, 'tampered slot');
}

describe('a PIV chain the test builds (root -> intermediate -> f9 -> slot)', () => {
  it('verifies through the configured intermediate and decodes the Yubico extensions', () => {
    expect(verify(chain.slot, chain.device.certificate, trust, chain.slot.x509.publicKey)).toEqual({
      kind: 'piv',
      attested: true,
      root: 'CN=Test Attestation Root',
      firmware: '5.7.4',
      serial: 31000001,
      pinPolicy: 'always',
      touchPolicy: 'always',
      formFactor: { name: 'usb-c-keychain', fips: true, cspn: false },
      publicKey: formatAuthorizedKeysLine(sshPublicKeyFromKeyObject(chain.slot.x509.publicKey)),
    });
  });

  it('refuses a tampered slot certificate', () => {
    expect(codeOf(() => verify(tampered(chain.slot), chain.device.certificate))).toBe(ErrorCodes.ATTESTATION_CHAIN);
  });

  it('refuses the chain under a root set that does not hold its root', async () => {
    const other = await testCa('Test Attestation Root');
    expect(codeOf(() => verify(chain.slot, chain.device.certificate, { roots: [other.certificate], intermediates: trust.intermediates }))).toBe(
      ErrorCodes.ATTESTATION_CHAIN,
    );
    // Nor without the intermediate the device does not send.
    expect(codeOf(() => verify(chain.slot, chain.device.certificate, { roots: trust.roots, intermediates: [] }))).toBe(ErrorCodes.ATTESTATION_CHAIN);
  });

  it('refuses a slot attestation for another key than the one given', () => {
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    expect(codeOf(() => verify(chain.slot, chain.device.certificate, trust, publicKey))).toBe(ErrorCodes.ATTESTATION_KEY_MISMATCH);
  });

  it('refuses a chain through an expired intermediate, and one not yet valid', async () => {
    const expired = await pivChain({ intermediate: { notAfter: new Date(Date.UTC(2025, 0, 1)) } });
    const roots = { roots: [expired.root.certificate], intermediates: [expired.intermediate.certificate] };
    expect(codeOf(() => verify(expired.slot, expired.device.certificate, roots))).toBe(ErrorCodes.ATTESTATION_CHAIN);
    const future = await pivChain({ device: { notBefore: new Date(Date.UTC(2027, 0, 1)) } });
    const futureRoots = { roots: [future.root.certificate], intermediates: [future.intermediate.certificate] };
    expect(codeOf(() => verify(future.slot, future.device.certificate, futureRoots))).toBe(ErrorCodes.ATTESTATION_CHAIN);
  });

  it('accepts an f9 without basicConstraints (as real 2018 devices have) but refuses one marked CA:FALSE', async () => {
    const absent = await pivChain({ device: { ca: 'absent' } });
    expect(verify(absent.slot, absent.device.certificate, { roots: [absent.root.certificate], intermediates: [absent.intermediate.certificate] }).attested).toBe(true);
    const notCa = await pivChain({ device: { ca: false } });
    expect(codeOf(() => verify(notCa.slot, notCa.device.certificate, { roots: [notCa.root.certificate], intermediates: [notCa.intermediate.certificate] }))).toBe(
      ErrorCodes.ATTESTATION_CHAIN,
    );
  });
});

describe('a CSR carrying the attestation the test built', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'jitca-attest-csr-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  function csr(key: KeyObject, slotOid = '1.3.6.1.4.1.41482.3.11'): string {
    const keyFile = path.join(dir, 'key.pem');
    writeFileSync(keyFile, key.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    const hex = (certificate: AttestationCertificate) => Buffer.from(certificate.der).toString('hex');
    return opensslOk([
      'req', '-new', '-key', keyFile, '-subj', '/CN=alice',
      '-addext', `${slotOid}=DER:${hex(chain.slot)}`,
      '-addext', `1.3.6.1.4.1.41482.3.2=DER:${hex(chain.device.certificate)}`,
    ]);
  }

  it('verifies when the CSR key is the slot key (slot certificate in .3.11 or .3.1)', () => {
    expect(verifyPivCsrAttestation(csr(chain.slotKey), trust, now)).toMatchObject({ attested: true, firmware: '5.7.4', serial: 31000001 });
    expect(verifyPivCsrAttestation(csr(chain.slotKey, '1.3.6.1.4.1.41482.3.1'), trust, now).attested).toBe(true);
  });

  it('refuses a CSR made with another key around the same attestation, and one without it', () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    expect(codeOf(() => verifyPivCsrAttestation(csr(privateKey), trust, now))).toBe(ErrorCodes.ATTESTATION_KEY_MISMATCH);
    const plain = opensslOk(['req', '-new', '-key', path.join(dir, 'key.pem'), '-subj', '/CN=alice']);
    expect(codeOf(() => verifyPivCsrAttestation(plain, trust, now))).toBe(ErrorCodes.ATTESTATION_MALFORMED);
  });

  it('refuses a CSR whose own signature does not verify', () => {
    const der = Buffer.from(csr(chain.slotKey).replace(/-----[^-]+-----/g, '').replace(/\s/g, ''), 'base64');
    der[der.length - 3] = (der[der.length - 3] ?? 0) ^ 0x01;
    expect(codeOf(() => verifyPivCsrAttestation(new Uint8Array(der), trust, now))).toBe(ErrorCodes.CSR_SIGNATURE);
  });

  it('refuses when the given key is not the CSR key', () => {
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const line = formatAuthorizedKeysLine(sshPublicKeyFromKeyObject(publicKey));
    expect(codeOf(() => verifyPivCsrAttestation(csr(chain.slotKey), trust, now, parseGivenPublicKey(line)))).toBe(ErrorCodes.ATTESTATION_KEY_MISMATCH);
  });
});

describe('the Yubico PIV extensions', () => {
  const decode = (entries: Array<[string, number[]]>) =>
    decodeYubicoPivExtensions(new Map(entries.map(([oid, bytes]) => [`1.3.6.1.4.1.41482.3.${oid}`, { value: Uint8Array.from(bytes) }])));

  it('names the Bio PIN policies (match once, match always) and every touch policy, as yubikit does', () => {
    expect(decode([['8', [4, 3]]])).toEqual({ pinPolicy: 'match-once', touchPolicy: 'cached' });
    expect(decode([['8', [5, 1]]])).toEqual({ pinPolicy: 'match-always', touchPolicy: 'never' });
    expect(decode([['8', [1, 2]]])).toEqual({ pinPolicy: 'never', touchPolicy: 'always' });
  });

  it('reads the form factor with its FIPS and CSPN bits', () => {
    expect(decode([['9', [0x47]]]).formFactor).toEqual({ name: 'usb-c-bio', fips: false, cspn: true });
    expect(decode([['9', [0x86]]]).formFactor).toEqual({ name: 'usb-a-bio', fips: true, cspn: false });
    expect(decode([['9', [0x05]]]).formFactor).toEqual({ name: 'usb-c-lightning', fips: false, cspn: false });
  });

  it('refuses a policy value yubikit does not know and extensions of the wrong size', () => {
    expect(codeOf(() => decode([['8', [6, 1]]]))).toBe(ErrorCodes.ATTESTATION_MALFORMED);
    expect(codeOf(() => decode([['8', [2, 4]]]))).toBe(ErrorCodes.ATTESTATION_MALFORMED);
    expect(codeOf(() => decode([['3', [5, 7]]]))).toBe(ErrorCodes.ATTESTATION_MALFORMED);
    expect(codeOf(() => decode([['7', [0x02, 0x01, 0x80]]]))).toBe(ErrorCodes.ATTESTATION_MALFORMED); // negative serial
  });
});
