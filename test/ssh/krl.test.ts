import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isJitcaError } from '../../src/errors.ts';
import { decodeKrl, encodeKrl } from '../../src/ssh/krl.ts';
import { parseSshPublicKey } from '../../src/ssh/public-key.ts';

let dir: string;
const caBlob = (name: string): Uint8Array => parseSshPublicKey(readFileSync(path.join(dir, `${name}.pub`), 'utf8')).blob;

/** A certificate made by the real ssh-keygen with `serial`, signed by CA `ca`. */
function certificate(ca: string, serial: number): string {
  const key = path.join(dir, `user-${ca}-${serial}`);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', key]);
  execFileSync('ssh-keygen', ['-q', '-s', path.join(dir, ca), '-I', `user-${serial}`, '-n', 'p', '-z', String(serial), `${key}.pub`]);
  return `${key}-cert.pub`;
}

/** `ssh-keygen -Q`: exit 0 when no key is revoked, 1 when one is (ssh-keygen.c do_check_krl). */
function checkAgainst(krl: Uint8Array, cert: string): { status: number | null; output: string } {
  const file = path.join(dir, 'krl');
  writeFileSync(file, krl);
  const result = spawnSync('ssh-keygen', ['-Q', '-f', file, cert], { encoding: 'utf8' });
  return { status: result.status, output: result.stdout + result.stderr };
}

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'jitca-krl-'));
  for (const ca of ['ca1', 'ca2']) execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(dir, ca)]);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('encodeKrl (PROTOCOL.krl), read by the real ssh-keygen -Q', () => {
  it('revokes exactly the listed serials of exactly the named CA', () => {
    const revoked = certificate('ca1', 5);
    const other = certificate('ca1', 7);
    const sameSerialOtherCa = certificate('ca2', 5);
    const high = certificate('ca2', 2 ** 53 + 1);
    const krl = encodeKrl({
      version: 3n,
      generatedAt: 1_700_000_000n,
      comment: 'jitca test',
      certificates: [
        { caKeyBlob: caBlob('ca1'), serials: [9n, 5n, 5n] },
        { caKeyBlob: caBlob('ca2'), serials: [BigInt(2 ** 53 + 1)] },
      ],
    });
    expect(checkAgainst(krl, revoked)).toMatchObject({ status: 1, output: expect.stringMatching(/REVOKED/) });
    expect(checkAgainst(krl, other)).toMatchObject({ status: 0, output: expect.stringMatching(/ok/) });
    expect(checkAgainst(krl, sameSerialOtherCa).status).toBe(0);
    expect(checkAgainst(krl, high)).toMatchObject({ status: 1, output: expect.stringMatching(/REVOKED/) });
  });

  it('an empty list is a valid KRL that revokes nothing', () => {
    const krl = encodeKrl({ version: 1n, generatedAt: 1_700_000_000n, certificates: [{ caKeyBlob: caBlob('ca1'), serials: [] }] });
    expect(Buffer.from(krl.subarray(0, 8)).toString('latin1')).toBe('SSHKRL\n\0');
    expect(checkAgainst(krl, certificate('ca1', 11))).toMatchObject({ status: 0, output: expect.stringMatching(/ok/) });
  });

  it('decodeKrl reads back what encodeKrl wrote, and refuses anything else with a wire code', () => {
    const input = { version: 7n, generatedAt: 1_700_000_000n, comment: 'jitca', certificates: [{ caKeyBlob: caBlob('ca1'), serials: [3n, 2n ** 64n - 1n] }] };
    const krl = encodeKrl(input);
    expect(decodeKrl(krl)).toEqual(input);
    const refused = (bytes: Uint8Array): boolean => {
      try {
        decodeKrl(bytes);
        return false;
      } catch (error) {
        return isJitcaError(error) && /^ERR_(WIRE|KEY)_/.test(error.code);
      }
    };
    // Cut exactly after the header it is a (valid) list that revokes nothing; cut anywhere else it is refused.
    const headerLength = encodeKrl({ ...input, certificates: [] }).length;
    expect(decodeKrl(krl.subarray(0, headerLength)).certificates).toEqual([]);
    for (let length = 0; length < krl.length; length += 1) {
      if (length !== headerLength) expect(refused(krl.subarray(0, length)), `truncated to ${length}`).toBe(true);
    }
    expect(refused(Uint8Array.from([...krl, 0]))).toBe(true);
    expect(refused(Buffer.from('-----BEGIN SSH KRL-----'))).toBe(true);
    const otherSection = Uint8Array.from(krl);
    otherSection[headerLength] = 2; // KRL_SECTION_EXPLICIT_KEY
    expect(refused(otherSection)).toBe(true);
  });
});
