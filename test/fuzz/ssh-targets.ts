/**
 * Fuzz targets for the SSH readers: public keys, certificates, KRLs. Seeds are real inputs (keys
 * of every supported type, the YubiKey sk-ed25519 key and its certificate, certificates signed by
 * Ed25519, ECDSA and RSA CAs, KRLs); structure-aware inputs are wire blobs assembled from plausible
 * field values, so many get past the first length check and some are accepted.
 */
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { SSH_CERT_TYPE_HOST, SSH_CERT_TYPE_USER, buildUserCertificate, parseCertificate } from '../../src/ssh/certificate.ts';
import { writeKeyMaterial } from '../../src/ssh/key-material.ts';
import { decodeKrl, encodeKrl } from '../../src/ssh/krl.ts';
import {
  decodePublicKeyBlob,
  formatAuthorizedKeysLine,
  parseSshPublicKey,
  publicKeyFromMaterial,
  sshPublicKeyFromKeyObject,
  type SshPublicKey,
} from '../../src/ssh/public-key.ts';
import { decodeSshSignature } from '../../src/ssh/signature.ts';
import { SshWriter } from '../../src/ssh/wire.ts';
import { createMemorySigner } from '../support/memory-signer.ts';
import { mutatedBytes, mutatedText } from './mutate.ts';
import { OracleFailure, expectSame, hex, type FuzzTarget } from './run.ts';

const TESTDATA = '/work/shared/testdata';
const KEY_TYPES = ['ssh-ed25519', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ssh-rsa', 'sk-ssh-ed25519@openssh.com', 'sk-ecdsa-sha2-nistp256@openssh.com'];

type WireInput = { blob: Uint8Array } | { line: string };

export interface SshSeeds {
  keys: SshPublicKey[];
  certificateBlobs: Uint8Array[];
  certificateLines: string[];
  krls: Uint8Array[];
}

export async function sshSeeds(): Promise<SshSeeds> {
  const keys = [
    sshPublicKeyFromKeyObject(generateKeyPairSync('ed25519').publicKey),
    sshPublicKeyFromKeyObject(generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey),
    sshPublicKeyFromKeyObject(generateKeyPairSync('ec', { namedCurve: 'secp384r1' }).publicKey),
    sshPublicKeyFromKeyObject(generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey),
    parseSshPublicKey(readFileSync(`${TESTDATA}/ssh-sk-ed25519-yk5nfc-A.pub`, 'utf8')),
  ];
  const cas = [createMemorySigner({ kind: 'ed25519' }), createMemorySigner({ kind: 'ecdsa', curve: 'P-256' }), createMemorySigner({ kind: 'rsa', bits: 2048 })];
  const certificateLines = [readFileSync(`${TESTDATA}/ssh-sk-ed25519-yk5nfc-A-cert.pub`, 'utf8').trim()];
  for (const [index, subject] of keys.entries()) {
    const issued = await buildUserCertificate(
      {
        subject,
        serial: BigInt(index) * 0x1_0000_0001n,
        keyId: `alice/req-${index}`,
        principals: ['alice', 'oncall-payments'],
        validAfter: 1_800_000_000n,
        validBefore: 1_800_003_600n,
        criticalOptions: { forceCommand: 'kubectl-debug', sourceAddresses: ['10.1.0.0/16'], verifyRequired: index % 2 === 0 },
        extensions: ['permit-pty', 'permit-port-forwarding'],
        customExtensions: { 'scope-cluster@jitca.dev': 'prod' },
      },
      cas[index % cas.length] ?? cas[0]!,
    );
    certificateLines.push(issued.line.trim());
  }
  const caBlobs = cas.map((ca) => sshPublicKeyFromKeyObject(ca.publicKey).blob);
  const krls = [
    encodeKrl({ version: 1n, generatedAt: 1_800_000_000n, certificates: [] }),
    encodeKrl({ version: 7n, generatedAt: 1_800_000_000n, comment: 'jitca', certificates: [{ caKeyBlob: caBlobs[0]!, serials: [1n, 5n, 2n ** 63n] }] }),
    encodeKrl({ version: 9n, generatedAt: 1n, certificates: caBlobs.map((caKeyBlob, index) => ({ caKeyBlob, serials: [BigInt(index), 77n] })) }),
  ];
  const blobOf = (line: string): Uint8Array => Uint8Array.from(Buffer.from(line.split(' ')[1] ?? '', 'base64'));
  return { keys, certificateBlobs: certificateLines.map(blobOf), certificateLines, krls };
}

const anyString = fc.oneof(fc.uint8Array({ maxLength: 40 }), fc.string({ maxLength: 40 }));
const keyField = fc.oneof(
  anyString,
  fc.uint8Array({ minLength: 32, maxLength: 32 }),
  fc.constantFrom('nistp256', 'nistp384', 'ssh:', 'ssh:work', 'https://example.com'),
  fc.uint8Array({ minLength: 64, maxLength: 64 }).map((xy) => Uint8Array.from([4, ...xy])),
  fc.bigInt({ min: 0n, max: 2n ** 64n }).map((value) => new SshWriter().writeMpint(value).toBytes().subarray(4)),
);

/** A key blob: a type name (known, near-known or random) and up to four fields. */
const structuredKeyBlob = fc
  .tuple(fc.oneof(fc.constantFrom(...KEY_TYPES, 'ssh-dss', 'ssh-ed25519-cert-v01@openssh.com'), fc.string({ maxLength: 20 })), fc.array(keyField, { maxLength: 4 }))
  .map(([type, fields]) => {
    const writer = new SshWriter().writeString(type);
    for (const field of fields) writer.writeString(field);
    return writer.toBytes();
  });

export function publicKeyTarget(seeds: SshSeeds): FuzzTarget<WireInput> {
  const lines = seeds.keys.map((key) => formatAuthorizedKeysLine(key, 'alice@laptop'));
  return {
    name: 'ssh public key',
    input: fc.oneof(
      { weight: 4, arbitrary: mutatedBytes(seeds.keys.map((key) => key.blob)).map((blob) => ({ blob })) },
      { weight: 3, arbitrary: mutatedText(lines).map((line) => ({ line })) },
      { weight: 2, arbitrary: structuredKeyBlob.map((blob) => ({ blob })) },
    ),
    check(input) {
      const key = parseSshPublicKey('blob' in input ? input.blob : input.line);
      const { type, material } = decodePublicKeyBlob(key.blob);
      expectSame('public key blob', publicKeyFromMaterial(type, material).blob, key.blob);
      if ('blob' in input) expectSame('public key blob', key.blob, input.blob);
      else {
        const again = parseSshPublicKey(formatAuthorizedKeysLine(key, key.comment));
        expectSame('public key line', again.blob, key.blob);
        if (again.comment !== key.comment) throw new OracleFailure('public key comment changes when the line is written again');
      }
      return true;
    },
    show: (input) => ('blob' in input ? `blob:${hex(input.blob)}` : `line:${JSON.stringify(input.line)}`),
  };
}

const optionList = fc.array(
  fc.tuple(
    fc.oneof(fc.constantFrom('force-command', 'source-address', 'verify-required', 'permit-pty', 'permit-X11-forwarding', 'x@jitca.dev', 'no-touch-required'), fc.string({ maxLength: 12 })),
    fc.oneof(fc.constant(new Uint8Array(0)), fc.string({ maxLength: 20 }).map((text) => new SshWriter().writeString(text).toBytes()), fc.uint8Array({ maxLength: 12 })),
  ),
  { maxLength: 4 },
);

/** A certificate assembled field by field from a seed key and CA: the signature rarely verifies, the structure often parses. */
function structuredCertificate(seeds: SshSeeds): fc.Arbitrary<Uint8Array> {
  return fc
    .record({
      key: fc.constantFrom(...seeds.keys),
      ca: fc.constantFrom(...seeds.keys.filter((key) => !key.isSecurityKey)),
      nonce: fc.uint8Array({ maxLength: 40 }),
      serial: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
      certType: fc.oneof(fc.constantFrom(SSH_CERT_TYPE_USER, SSH_CERT_TYPE_HOST), fc.nat()),
      keyId: fc.string({ maxLength: 30 }),
      principals: fc.array(fc.oneof(fc.constantFrom('alice', 'root', 'a,b'), fc.string({ maxLength: 10 })), { maxLength: 4 }),
      validAfter: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
      validBefore: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
      critical: optionList,
      extensions: optionList,
      reserved: fc.oneof(fc.constant(new Uint8Array(0)), fc.uint8Array({ maxLength: 4 })),
      signature: fc.tuple(fc.constantFrom('ssh-ed25519', 'ecdsa-sha2-nistp256', 'rsa-sha2-512', 'ssh-rsa'), fc.uint8Array({ maxLength: 80 })),
    })
    .map((fields) => {
      const { type, material } = decodePublicKeyBlob(fields.key.blob);
      const writer = new SshWriter().writeString(`${type.replace(/@openssh\.com$/, '')}-cert-v01@openssh.com`).writeString(fields.nonce);
      writeKeyMaterial(writer, material);
      writer.writeUint64(fields.serial).writeUint32(fields.certType >>> 0).writeString(fields.keyId);
      writer.writeNestedString((list) => fields.principals.forEach((principal) => list.writeString(principal)));
      writer.writeUint64(fields.validAfter).writeUint64(fields.validBefore);
      for (const options of [fields.critical, fields.extensions]) {
        writer.writeNestedString((list) => options.forEach(([name, data]) => list.writeString(name).writeString(data)));
      }
      writer.writeString(fields.reserved).writeString(fields.ca.blob);
      writer.writeNestedString((signature) => signature.writeString(fields.signature[0]).writeString(fields.signature[1]));
      return writer.toBytes();
    });
}

export function certificateTarget(seeds: SshSeeds): FuzzTarget<WireInput> {
  return {
    name: 'ssh certificate',
    input: fc.oneof(
      { weight: 4, arbitrary: mutatedBytes(seeds.certificateBlobs).map((blob) => ({ blob })) },
      { weight: 2, arbitrary: mutatedText(seeds.certificateLines).map((line) => ({ line })) },
      { weight: 3, arbitrary: structuredCertificate(seeds).map((blob) => ({ blob })) },
    ),
    check(input) {
      const parsed = parseCertificate('blob' in input ? input.blob : input.line);
      // Written again from the parsed fields: every field must have exactly one encoding.
      const writer = new SshWriter().writeString(parsed.type).writeString(parsed.nonce);
      writeKeyMaterial(writer, decodePublicKeyBlob(parsed.key.blob).material);
      writer.writeUint64(parsed.serial).writeUint32(parsed.certType === 'user' ? SSH_CERT_TYPE_USER : SSH_CERT_TYPE_HOST).writeString(parsed.keyId);
      writer.writeNestedString((list) => parsed.principals.forEach((principal) => list.writeString(principal)));
      writer.writeUint64(parsed.validAfter).writeUint64(parsed.validBefore);
      for (const options of [parsed.criticalOptionList, parsed.extensionList]) {
        writer.writeNestedString((list) => options.forEach(({ name, data }) => list.writeString(name).writeString(data)));
      }
      writer.writeString(parsed.reserved).writeString(parsed.signatureKey.blob);
      const signed = writer.toBytes();
      expectSame('certificate (signed part)', parsed.blob.subarray(0, signed.length), signed);
      const rest = parsed.blob.subarray(signed.length);
      const signature = decodeSshSignature(rest.subarray(4));
      const rewritten = new SshWriter().writeNestedString((inner) => inner.writeString(signature.algorithm).writeString(signature.blob)).toBytes();
      expectSame('certificate signature', rewritten, rest);
      if ('blob' in input) expectSame('certificate blob', parsed.blob, input.blob);
      else {
        const again = parseCertificate(`${parsed.type} ${Buffer.from(parsed.blob).toString('base64')}${parsed.comment === undefined ? '' : ` ${parsed.comment}`}`);
        expectSame('certificate line', again.blob, parsed.blob);
        if (again.comment !== parsed.comment) throw new OracleFailure('certificate comment changes when the line is written again');
      }
      return true;
    },
    show: (input) => ('blob' in input ? `blob:${hex(input.blob)}` : `line:${JSON.stringify(input.line)}`),
  };
}

/** A KRL assembled from a header and sections of plausible and odd values. */
function structuredKrl(seeds: SshSeeds): fc.Arbitrary<Uint8Array> {
  const caBlobs = seeds.keys.filter((key) => !key.isSecurityKey).map((key) => key.blob);
  const section = fc.tuple(
    fc.oneof({ weight: 5, arbitrary: fc.constant(1) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 255 }) }),
    fc.constantFrom(...caBlobs),
    fc.oneof(fc.constant(new Uint8Array(0)), fc.uint8Array({ maxLength: 4 })),
    fc.array(
      fc.tuple(
        fc.oneof({ weight: 5, arbitrary: fc.constant(0x20) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 255 }) }),
        fc.array(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), { maxLength: 5 }),
      ),
      { maxLength: 2 },
    ),
  );
  return fc
    .record({
      version: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
      generatedAt: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
      flags: fc.oneof({ weight: 5, arbitrary: fc.constant(0n) }, { weight: 1, arbitrary: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }) }),
      reserved: fc.oneof({ weight: 5, arbitrary: fc.constant(new Uint8Array(0)) }, { weight: 1, arbitrary: fc.uint8Array({ maxLength: 4 }) }),
      comment: fc.oneof(fc.string({ maxLength: 10 }).map((text) => Uint8Array.from(Buffer.from(text, 'utf8'))), fc.uint8Array({ maxLength: 6 })),
      sections: fc.array(section, { maxLength: 3 }),
    })
    .map((krl) => {
      const writer = new SshWriter().writeRaw(Uint8Array.from(Buffer.from('SSHKRL\n\0', 'latin1'))).writeUint32(1);
      writer.writeUint64(krl.version).writeUint64(krl.generatedAt).writeUint64(krl.flags).writeString(krl.reserved).writeString(krl.comment);
      for (const [type, caBlob, reserved, lists] of krl.sections) {
        writer.writeRaw(Uint8Array.of(type)).writeNestedString((body) => {
          body.writeString(caBlob).writeString(reserved);
          for (const [subtype, serials] of lists) {
            body.writeRaw(Uint8Array.of(subtype)).writeNestedString((list) => serials.forEach((serial) => list.writeUint64(serial)));
          }
        });
      }
      return writer.toBytes();
    });
}

export function krlTarget(seeds: SshSeeds): FuzzTarget<Uint8Array> {
  return {
    name: 'ssh KRL',
    input: fc.oneof({ weight: 3, arbitrary: mutatedBytes(seeds.krls) }, { weight: 2, arbitrary: structuredKrl(seeds) }),
    check(bytes) {
      expectSame('KRL', encodeKrl(decodeKrl(bytes)), bytes);
      return true;
    },
    show: (bytes) => hex(bytes),
  };
}
