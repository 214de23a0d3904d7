import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isJitcaError } from '../../src/errors.ts';
import { decodeKrl, encodeKrl } from '../../src/ssh/krl.ts';
import { parseSshPublicKey } from '../../src/ssh/public-key.ts';
import { SshWriter } from '../../src/ssh/wire.ts';

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

  it('decodeKrl refuses what encodeKrl never writes (found by bench/fuzz.ts: it read them and wrote back other bytes)', () => {
    const refusedWith = (bytes: Uint8Array): string | undefined => {
      try {
        decodeKrl(bytes);
        return undefined;
      } catch (error) {
        return isJitcaError(error) ? error.code : String(error);
      }
    };
    const header = (fields: { flags?: bigint; reserved?: Uint8Array; comment?: Uint8Array } = {}): SshWriter =>
      new SshWriter()
        .writeRaw(Uint8Array.from(Buffer.from('SSHKRL\n\0', 'latin1')))
        .writeUint32(1)
        .writeUint64(7n)
        .writeUint64(1_700_000_000n)
        .writeUint64(fields.flags ?? 0n)
        .writeString(fields.reserved ?? new Uint8Array(0))
        .writeString(fields.comment ?? new Uint8Array(0));
    const section = (writer: SshWriter, lists: Array<{ subtype?: number; serials: bigint[] }>, reserved = new Uint8Array(0)): Uint8Array =>
      writer
        .writeRaw(Uint8Array.of(1))
        .writeNestedString((body) => {
          body.writeString(caBlob('ca1')).writeString(reserved);
          for (const { subtype = 0x20, serials } of lists) {
            body.writeRaw(Uint8Array.of(subtype)).writeNestedString((list) => serials.forEach((serial) => list.writeUint64(serial)));
          }
        })
        .toBytes();
    // The canonical form is still read, and written back unchanged.
    const canonical = section(header(), [{ serials: [2n, 5n] }]);
    expect(encodeKrl(decodeKrl(canonical))).toEqual(canonical);
    const odd = {
      'flags set': header({ flags: 1n }).toBytes(),
      'header reserved field': header({ reserved: Uint8Array.of(0) }).toBytes(),
      'comment not UTF-8': header({ comment: Uint8Array.of(0xff) }).toBytes(),
      'serials out of order': section(header(), [{ serials: [5n, 2n] }]),
      'a repeated serial': section(header(), [{ serials: [2n, 2n] }]),
      'an empty serial list': section(header(), [{ serials: [] }]),
      'a section without a list': section(header(), []),
      'two lists in one section': section(header(), [{ serials: [1n] }, { serials: [2n] }]),
      'section reserved field': section(header(), [{ serials: [1n] }], Uint8Array.of(0)),
    };
    for (const [name, bytes] of Object.entries(odd)) expect(refusedWith(bytes), name).toMatch(/^ERR_WIRE_/);
  });
});
