import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadAttestationTrust, shippedAttestationTrust } from '../../src/attestation/shipped-roots.ts';
import { ErrorCodes } from '../../src/errors.ts';
import { encodePem } from '../../src/x509/pem.ts';
import { testCa } from '../support/attestation-builder.ts';
import { codeOf } from '../support/error-codes.ts';

const rootsDir = path.resolve(import.meta.dirname, '../../src/attestation/roots');
const dir = mkdtempSync(path.join(tmpdir(), 'jitca-attestation-roots-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the attestation trust anchors', () => {
  it('ships exactly the files roots/PROVENANCE.md lists, with the SHA-256 it records', () => {
    const provenance = readFileSync(path.join(rootsDir, 'PROVENANCE.md'), 'utf8');
    const recorded = [...provenance.matchAll(/^\| `([^`]+\.pem)` \|.*\| ([0-9a-f]{64}) \|$/gm)].map(([, file, digest]) => [file, digest]);
    const shipped = readdirSync(rootsDir)
      .filter((file) => file.endsWith('.pem'))
      .map((file) => [file, createHash('sha256').update(readFileSync(path.join(rootsDir, file))).digest('hex')]);
    expect(shipped.sort()).toEqual(recorded.sort());
  });

  it('puts the PIV, U2F and 2024 roots in the PIV set, the U2F and 2024 roots in the FIDO set', () => {
    const names = (set: { roots: ReadonlyArray<{ name: string }> }) => set.roots.map((root) => root.name);
    const trust = shippedAttestationTrust();
    expect(names(trust.piv)).toEqual(['CN=Yubico PIV Root CA Serial 263751', 'CN=Yubico U2F Root CA Serial 457200631', 'CN=Yubico Attestation Root 1']);
    expect(names(trust.fido)).toEqual(['CN=Yubico U2F Root CA Serial 457200631', 'CN=Yubico Attestation Root 1']);
    expect(trust.piv.intermediates).toHaveLength(4);
  });

  it('adds an operator\'s root files to the shipped ones, and names an unreadable or bad file', async () => {
    const ca = await testCa('Operator Attestation Root');
    const file = path.join(dir, 'extra.pem');
    writeFileSync(file, encodePem('CERTIFICATE', ca.certificate.der));
    const trust = loadAttestationTrust({ pivRoots: [file] });
    expect(trust.piv.roots.map((root) => root.name)).toContain('CN=Operator Attestation Root');
    expect(trust.piv.roots).toHaveLength(4);
    expect(trust.fido.roots).toHaveLength(2);
    expect(codeOf(() => loadAttestationTrust({ fidoRoots: [path.join(dir, 'missing.pem')] }))).toBe(ErrorCodes.CONFIG_INVALID);
    writeFileSync(path.join(dir, 'bad.pem'), 'not a certificate');
    expect(codeOf(() => loadAttestationTrust({ fidoIntermediates: [path.join(dir, 'bad.pem')] }))).toBe(ErrorCodes.ATTESTATION_MALFORMED);
  });
});
