import { createHash, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { readAttestationCertificate, type AttestationCertificate } from '../../src/attestation/attestation-certificate.ts';
import { DER_TRUE, derElement, derObjectIdentifier, derOctetString, derSequence } from '../../src/x509/der-writer.ts';
import { encodeSubjectName } from '../../src/x509/distinguished-name.ts';
import { signCertificate } from '../../src/x509/sign-certificate.ts';
import { SshWriter } from '../../src/ssh/wire.ts';
import { createMemorySigner } from './memory-signer.ts';
import type { Signer } from '../../src/keys/signer.ts';

/**
 * Attestation material the tests make themselves, shaped like Yubico's: a test root ->
 * intermediate -> device (f9) -> slot chain with the 41482.3 extensions, and OpenSSH
 * ssh-sk-attest-v01 blobs signed by a test authenticator's attestation key.
 */
export interface TestCa {
  signer: Signer;
  name: Uint8Array;
  certificate: AttestationCertificate;
}

export interface CertificateOptions {
  /** true: CA:TRUE; false: CA:FALSE; 'absent': no basicConstraints (real f9 certificates of 2018). */
  ca?: boolean | 'absent';
  notBefore?: Date;
  notAfter?: Date;
  extensions?: Uint8Array[];
}

const NOT_BEFORE = new Date(Date.UTC(2024, 0, 1));
const NOT_AFTER = new Date(Date.UTC(2050, 0, 1));
let serial = 1n;

export async function issue(
  commonName: string,
  subjectKey: { spki: Uint8Array },
  issuer: TestCa | 'self',
  options: CertificateOptions = {},
  selfSigner?: Signer,
): Promise<AttestationCertificate> {
  const name = encodeSubjectName({ commonName, organizations: [] });
  const ca = options.ca ?? true;
  const extensions = [...(ca === 'absent' ? [] : [extension('2.5.29.19', derSequence(ca ? [DER_TRUE] : []), true)]), ...(options.extensions ?? [])];
  const signed = await signCertificate(
    {
      serial: (serial += 1n),
      issuer: issuer === 'self' ? name : issuer.name,
      subject: name,
      notBefore: options.notBefore ?? NOT_BEFORE,
      notAfter: options.notAfter ?? NOT_AFTER,
      spki: subjectKey.spki,
      extensions,
    },
    issuer === 'self' ? (selfSigner as Signer) : issuer.signer,
  );
  return readAttestationCertificate(signed.der, commonName);
}

export async function testCa(commonName: string, parent?: TestCa, options: CertificateOptions = {}): Promise<TestCa> {
  const signer = createMemorySigner({ kind: 'ecdsa', curve: 'P-256' });
  const certificate = await issue(commonName, signer, parent ?? 'self', options, signer);
  return { signer, name: encodeSubjectName({ commonName, organizations: [] }), certificate };
}

export function extension(oid: string, value: Uint8Array, critical = false): Uint8Array {
  return derSequence([derObjectIdentifier(oid), ...(critical ? [DER_TRUE] : []), derOctetString(value)]);
}

export interface PivFactsToWrite {
  firmware?: [number, number, number];
  serial?: number;
  policy?: [number, number];
  formFactor?: number;
}

/** The slot certificate's Yubico extensions: raw bytes, except the serial (a DER INTEGER). */
export function yubicoExtensions(facts: PivFactsToWrite): Uint8Array[] {
  const out: Uint8Array[] = [];
  if (facts.firmware) out.push(extension('1.3.6.1.4.1.41482.3.3', Uint8Array.from(facts.firmware)));
  if (facts.serial !== undefined) out.push(extension('1.3.6.1.4.1.41482.3.7', derInteger(facts.serial)));
  if (facts.policy) out.push(extension('1.3.6.1.4.1.41482.3.8', Uint8Array.from(facts.policy)));
  if (facts.formFactor !== undefined) out.push(extension('1.3.6.1.4.1.41482.3.9', Uint8Array.of(facts.formFactor)));
  return out;
}

function derInteger(value: number): Uint8Array {
  const hex = value.toString(16).padStart(2, '0');
  let bytes = Buffer.from(hex.length % 2 ? `0${hex}` : hex, 'hex');
  if ((bytes[0] ?? 0) >= 0x80) bytes = Buffer.concat([Buffer.of(0), bytes]);
  return derElement(0x02, bytes);
}

export interface PivChain {
  root: TestCa;
  intermediate: TestCa;
  device: TestCa;
  slot: AttestationCertificate;
  slotKey: KeyObject;
}

/** root -> intermediate -> device (f9) -> slot, each overridable, the slot key a fresh P-256 key. */
export async function pivChain(options: { intermediate?: CertificateOptions; device?: CertificateOptions; facts?: PivFactsToWrite } = {}): Promise<PivChain> {
  const root = await testCa('Test Attestation Root');
  const intermediate = await testCa('Test Attestation Intermediate', root, options.intermediate);
  // Real f9 certificates carry the firmware too (and with ca 'absent', it is their only extension).
  const deviceExtensions = yubicoExtensions({ firmware: options.facts?.firmware ?? [5, 7, 4] });
  const device = await testCa('Test PIV Attestation', intermediate, { extensions: deviceExtensions, ...options.device });
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const spki = new Uint8Array(publicKey.export({ type: 'spki', format: 'der' }));
  const facts = options.facts ?? { firmware: [5, 7, 4], serial: 31000001, policy: [3, 2], formFactor: 0x83 };
  const slot = await issue('YubiKey PIV Attestation 9a', { spki }, device, { ca: 'absent', extensions: yubicoExtensions(facts) });
  return { root, intermediate, device, slot, slotKey: privateKey };
}

/** A FIDO authenticator under test: its attestation certificate and the key that signs with it. */
export interface TestAuthenticator {
  root: TestCa;
  certificate: AttestationCertificate;
  attestationKey: KeyObject;
}

/** `aaguid`: the model its certificate is for (id-fido-gen-ce-aaguid); absent, as on U2F-only keys. */
export async function testAuthenticator(options: { aaguid?: Uint8Array } = {}): Promise<TestAuthenticator> {
  const root = await testCa('Test FIDO Root');
  const signer = createMemorySigner({ kind: 'ecdsa', curve: 'P-256' });
  const extensions = options.aaguid === undefined ? [] : [extension('1.3.6.1.4.1.45724.1.1.4', derOctetString(options.aaguid))];
  const certificate = await issue('Test U2F EE Serial 1', signer, root, { ca: false, extensions });
  return { root, certificate, attestationKey: signer.privateKey };
}

export interface EnrollmentOptions {
  keyKind?: 'ed25519' | 'p256';
  application?: string;
  /** Application the authenticator data's RP ID hash is made from (default: `application`). */
  rpApplication?: string;
  flags?: number;
  format?: 'packed' | 'fido-u2f' | 'none';
  challenge: Uint8Array;
  /** The challenge itself as the client data hash, as OpenSSH 8.4 to 8.6 passed it (32 bytes). */
  rawChallenge?: boolean;
  /** The authenticator data's AAGUID (default 16 bytes of 0x2f). */
  aaguid?: Uint8Array;
}

/** What `ssh-keygen -t ed25519-sk -O challenge=FILE -O write-attestation=FILE` leaves behind. */
export function enroll(authenticator: TestAuthenticator, options: EnrollmentOptions): { blob: Uint8Array; publicKeyLine: string } {
  const application = options.application ?? 'ssh:';
  const kind = options.keyKind ?? 'ed25519';
  const credential = kind === 'ed25519' ? generateKeyPairSync('ed25519') : generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const jwk = credential.publicKey.export({ format: 'jwk' });
  const x = Buffer.from(jwk.x ?? '', 'base64url');
  const y = Buffer.from(jwk.y ?? '', 'base64url');
  const cose = kind === 'ed25519' ? cborMap([[1, 1], [3, -8], [-1, 6], [-2, x]]) : cborMap([[1, 2], [3, -7], [-1, 1], [-2, x], [-3, y]]);
  const rpIdHash = createHash('sha256').update(options.rpApplication ?? application).digest();
  const credentialId = Buffer.alloc(64, 7);
  const length = Buffer.alloc(2);
  length.writeUInt16BE(credentialId.length);
  const authData = Buffer.concat([rpIdHash, Buffer.of(options.flags ?? 0x45), Buffer.alloc(4), options.aaguid ?? Buffer.alloc(16, 0x2f), length, credentialId, cose]);
  const clientDataHash = options.rawChallenge ? Buffer.from(options.challenge) : createHash('sha256').update(options.challenge).digest();
  const point = Buffer.concat([Buffer.of(4), x, y]);
  const format = options.format ?? 'packed';
  const signed =
    format === 'fido-u2f' ? Buffer.concat([Buffer.of(0), rpIdHash, clientDataHash, credentialId, point]) : Buffer.concat([authData, clientDataHash]);
  const none = format === 'none';
  const blob = new SshWriter()
    .writeString('ssh-sk-attest-v01')
    .writeString(none ? new Uint8Array() : authenticator.certificate.der)
    .writeString(none ? new Uint8Array() : sign('sha256', signed, authenticator.attestationKey))
    .writeString(cborBytes(authData))
    .writeUint32(0)
    .writeString(new Uint8Array())
    .toBytes();
  const type = kind === 'ed25519' ? 'sk-ssh-ed25519@openssh.com' : 'sk-ecdsa-sha2-nistp256@openssh.com';
  const key = new SshWriter().writeString(type);
  if (kind === 'p256') key.writeString('nistp256');
  key.writeString(kind === 'ed25519' ? x : point).writeString(application);
  return { blob, publicKeyLine: `${type} ${Buffer.from(key.toBytes()).toString('base64')}` };
}

function cborHead(major: number, value: number): Buffer {
  if (value < 24) return Buffer.of((major << 5) | value);
  if (value < 0x100) return Buffer.of((major << 5) | 24, value);
  return Buffer.of((major << 5) | 25, value >> 8, value & 0xff);
}

function cborBytes(bytes: Uint8Array): Buffer {
  return Buffer.concat([cborHead(2, bytes.length), bytes]);
}

function cborInt(value: number): Buffer {
  return value >= 0 ? cborHead(0, value) : cborHead(1, -1 - value);
}

function cborMap(entries: Array<[number, number | Uint8Array]>): Buffer {
  const parts = entries.flatMap(([key, value]) => [cborInt(key), typeof value === 'number' ? cborInt(value) : cborBytes(value)]);
  return Buffer.concat([cborHead(5, entries.length), ...parts]);
}
