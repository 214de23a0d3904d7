/**
 * Fuzz targets for the attestation verifiers, seeded with the real YubiKey data in
 * test/fixtures/attestation. The oracle is stricter than a round trip: an attestation is a
 * signature, so an accepted input must carry exactly the seed's signed parts. A mutated blob or
 * slot certificate that still verifies would be a forged attestation.
 */
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { readAttestationCertificate } from '../../src/attestation/attestation-certificate.ts';
import { verifyFidoAttestation } from '../../src/attestation/fido-attestation.ts';
import { verifyPivAttestation } from '../../src/attestation/piv-attestation.ts';
import { shippedAttestationTrust } from '../../src/attestation/shipped-roots.ts';
import { parseSshSkAttestationBlob } from '../../src/attestation/ssh-sk-attestation-blob.ts';
import { parseSshPublicKey } from '../../src/ssh/public-key.ts';
import { pemToDer } from '../x509/openssl.ts';
import { mutatedBytes } from './mutate.ts';
import { OracleFailure, expectSame, hex, type FuzzTarget } from './run.ts';

const fixture = (name: string): Buffer => readFileSync(new URL(`../fixtures/attestation/${name}`, import.meta.url));
const now = new Date(Date.UTC(2026, 10, 23));

export function fidoBlobTarget(): FuzzTarget<Uint8Array> {
  const seed = new Uint8Array(fixture('ssh-sk-ed25519-yk5nfc-A.attestation.bin'));
  const challenge = fixture('ssh-sk-ed25519-yk5nfc-A.challenge.bin');
  const sshKey = parseSshPublicKey(fixture('ssh-sk-ed25519-yk5nfc-A.pub').toString('utf8'));
  const signed = parseSshSkAttestationBlob(seed);
  const trust = shippedAttestationTrust();
  return {
    name: 'ssh-sk attestation',
    input: fc.oneof({ arbitrary: mutatedBytes([seed]), weight: 20 }, { arbitrary: fc.constant(seed), weight: 1 }),
    check(blob) {
      verifyFidoAttestation({ blob, challenge, sshKey }, trust.fido, now);
      // Only the reserved fields are unsigned: everything else must be the seed's.
      const accepted = parseSshSkAttestationBlob(blob);
      expectSame('attestation certificate', accepted.certificate, signed.certificate);
      expectSame('enrollment signature', accepted.signature, signed.signature);
      expectSame('authenticator data', accepted.authenticatorData, signed.authenticatorData);
      return true;
    },
    show: hex,
  };
}

export function pivSlotTarget(): FuzzTarget<Uint8Array> {
  const seed = pemToDer(fixture('piv-go-5.x-9a-leaf.pem').toString('utf8'));
  const f9 = readAttestationCertificate(fixture('piv-go-5.x-f9-intermediate.pem'), 'f9');
  const trust = shippedAttestationTrust();
  return {
    name: 'PIV slot attestation',
    input: fc.oneof({ arbitrary: mutatedBytes([seed]), weight: 20 }, { arbitrary: fc.constant(seed), weight: 1 }),
    check(der) {
      verifyPivAttestation({ slot: readAttestationCertificate(der, 'slot'), f9 }, trust.piv, now);
      if (hex(der) !== hex(seed)) throw new OracleFailure('a slot certificate other than the real one verified');
      return true;
    },
    show: hex,
  };
}
