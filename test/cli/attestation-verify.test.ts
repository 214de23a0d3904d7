import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runJitca } from '../support/jitca-cli.ts';
import { encodePem } from '../../src/x509/pem.ts';
import { pivChain } from '../support/attestation-builder.ts';

const root = path.resolve(import.meta.dirname, '../..');
const fixture = (name: string): string => path.join(root, 'test/fixtures/attestation', name);
const dir = mkdtempSync(path.join(tmpdir(), 'jitca-attestation-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const run = (args: string[]) => runJitca(['attestation', 'verify', ...args]);

describe('jitca attestation verify (no server)', () => {
  it('prints the facts of real PIV, CSR and FIDO attestations as one JSON object, and refuses a mismatched key with its code', async () => {
    const skKey = readFileSync(fixture('ssh-sk-ed25519-yk5nfc-A.pub'), 'utf8').trim();
    const sk = ['--sk-attestation', fixture('ssh-sk-ed25519-yk5nfc-A.attestation.bin'), '--challenge', fixture('ssh-sk-ed25519-yk5nfc-A.challenge.bin')];
    const [piv, csr, fido, fidoMismatch, none] = await Promise.all([
      run(['--piv-slot', fixture('piv-go-5.x-9a-leaf.pem'), '--piv-f9', fixture('piv-go-5.x-f9-intermediate.pem')]),
      run(['--csr', fixture('tamemycerts-csr-5.7.2.pem')]),
      run([...sk, '--pubkey', fixture('ssh-sk-ed25519-yk5nfc-A.pub')]),
      run([...sk, '--pubkey', fixture('ssh-sk-ed25519-mismatch-for-A.pub')]),
      run([]),
    ]);
    expect(piv).toMatchObject({ status: 0, stderr: '' });
    expect(piv.stdout.split('\n')).toHaveLength(2); // one line, one object
    const pivFacts = JSON.parse(piv.stdout) as Record<string, unknown>;
    expect(Object.keys(pivFacts)).toEqual(['kind', 'attested', 'root', 'serial', 'firmware', 'pinPolicy', 'touchPolicy', 'formFactor', 'publicKey']);
    expect(pivFacts).toMatchObject({ kind: 'piv', attested: true, root: 'CN=Yubico PIV Root CA Serial 263751', serial: 15732500, firmware: '5.4.3', pinPolicy: 'once' });
    expect(JSON.parse(csr.stdout)).toMatchObject({ kind: 'piv', serial: 30000948, firmware: '5.7.2', formFactor: { name: 'usb-c-bio' } });
    const fidoFacts = JSON.parse(fido.stdout) as Record<string, unknown>;
    expect(fidoFacts).toMatchObject({ kind: 'fido', attested: true, flags: { up: true, uv: true }, root: 'CN=Yubico U2F Root CA Serial 457200631' });
    expect(fidoFacts['publicKey']).toBe(skKey.split(' ').slice(0, 2).join(' '));
    expect(fidoMismatch).toMatchObject({ status: 2, stdout: '' });
    expect(fidoMismatch.stderr).toMatch(/^jitca: ERR_ATTESTATION_KEY_MISMATCH: /);
    expect(none.status).toBe(2);
    expect(none.stderr).toMatch(/^jitca: ERR_REQUEST_INVALID: /);
  });

  it('trusts extra roots and intermediates given as files, and only then (the key given as PEM text, not a file)', async () => {
    const chain = await pivChain();
    const write = (name: string, der: Uint8Array) => {
      writeFileSync(path.join(dir, name), encodePem('CERTIFICATE', der));
      return path.join(dir, name);
    };
    const args = ['--piv-slot', write('slot.pem', chain.slot.der), '--piv-f9', write('f9.pem', chain.device.certificate.der)];
    const pubkey = chain.slot.x509.publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const extra = ['--root', write('root.pem', chain.root.certificate.der), '--intermediate', write('intermediate.pem', chain.intermediate.certificate.der)];
    const [trusted, untrusted] = await Promise.all([run([...args, ...extra, '--pubkey', pubkey]), run(args)]);
    expect(trusted).toMatchObject({ status: 0, stderr: '' });
    expect(JSON.parse(trusted.stdout)).toMatchObject({ root: 'CN=Test Attestation Root', firmware: '5.7.4', pinPolicy: 'always', formFactor: { fips: true } });
    expect(untrusted).toMatchObject({ status: 2, stdout: '' });
    expect(untrusted.stderr).toMatch(/^jitca: ERR_ATTESTATION_CHAIN: /);
  });
});
