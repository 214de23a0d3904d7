import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkSessionCommand, parseAccountPrincipals } from '../../src/gateway/account-principals.ts';
import { readGatewayTrustFiles } from '../../src/gateway/gateway-trust-files.ts';
import { encodeKrl } from '../../src/ssh/krl.ts';
import { formatAuthorizedKeysLine, sshFingerprint, sshPublicKeyFromKeyObject } from '../../src/ssh/public-key.ts';
import { createMemorySigner } from '../support/memory-signer.ts';
import { codeOf } from '../support/error-codes.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'jitca-gateway-inputs-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, content: string | Uint8Array): string {
  const target = path.join(dir, name);
  writeFileSync(target, content);
  return target;
}

describe("the gateway's trust files, read as sshd reads them and failing closed", () => {
  const ca = sshPublicKeyFromKeyObject(createMemorySigner({ kind: 'ed25519' }).publicKey);
  const next = sshPublicKeyFromKeyObject(createMemorySigner({ kind: 'ecdsa', curve: 'P-256' }).publicKey);
  const caFile = file('ca', `# jitca\n${formatAuthorizedKeysLine(ca, 'jitca:1')}\n\n${formatAuthorizedKeysLine(next, 'jitca:2')}\n`);

  it('reads every CA generation and the revoked serials per CA', () => {
    const krl = file('krl', encodeKrl({ version: 3n, generatedAt: 0n, certificates: [{ caKeyBlob: ca.blob, serials: [7n, 9n] }] }));
    const trust = readGatewayTrustFiles({ trustedCaKeys: caFile, revokedKeys: krl });
    expect([...trust.trustedCaFingerprints]).toEqual([sshFingerprint(ca.blob), sshFingerprint(next.blob)]);
    expect([...(trust.revokedSerials.get(sshFingerprint(ca.blob)) ?? [])]).toEqual([7n, 9n]);
  });

  it('takes an empty KRL file as revoking nothing, as sshd does', () => {
    expect(readGatewayTrustFiles({ trustedCaKeys: caFile, revokedKeys: file('empty', '') }).revokedSerials.size).toBe(0);
  });

  it.each([
    ['a missing KRL', () => ({ trustedCaKeys: caFile, revokedKeys: path.join(dir, 'absent') })],
    ['a KRL that is not one', () => ({ trustedCaKeys: caFile, revokedKeys: file('bad-krl', 'SSHKRL\n\0garbage') })],
    ['a CA file with a bad line', () => ({ trustedCaKeys: file('bad-ca', 'ssh-ed25519 AAAA\n'), revokedKeys: file('empty2', '') })],
  ])('refuses every login on %s (ERR_CONFIG_INVALID)', (_, files) => {
    expect(codeOf(() => readGatewayTrustFiles(files()))).toBe('ERR_CONFIG_INVALID');
  });
});

describe('the --allow and --session-command options', () => {
  it('maps accounts to principals, repeats adding up', () => {
    const map = parseAccountPrincipals(['debug=oncall-payments,oncall-search', 'debug=sre', 'ops=sre']);
    expect(Object.fromEntries([...map].map(([account, set]) => [account, [...set]]))).toEqual({
      debug: ['oncall-payments', 'oncall-search', 'sre'],
      ops: ['sre'],
    });
  });

  it.each(['debug', '=sre', 'Root=sre', 'debug=', 'debug=a b', 'debug=#sre', 'debug=sre,', 'debug=x\n'])('refuses %j', (entry) => {
    expect(codeOf(() => parseAccountPrincipals([entry]))).toBe('ERR_CONFIG_INVALID');
  });

  it.each(['jitca gateway session', '/usr/bin/jitca" ; rm -rf / "', '/bin/x\\', '/bin/x\nnext'])('refuses the session command %j', (command) => {
    expect(codeOf(() => checkSessionCommand(command))).toBe('ERR_CONFIG_INVALID');
  });
});
