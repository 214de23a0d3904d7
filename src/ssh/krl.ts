import { ErrorCodes, JitcaError } from '../errors.ts';
import { decodePublicKeyBlob } from './public-key.ts';
import { SshReader, SshWriter } from './wire.ts';

/**
 * OpenSSH key revocation lists (PROTOCOL.krl), the format sshd's RevokedKeys and `ssh-keygen -Q`
 * read. jitca revokes certificates by serial only: its serials are random 64-bit and unique per
 * CA, and a serial names exactly one certificate, where a key ID could be reused.
 */

/** PROTOCOL.krl §1: "SSHKRL\n\0", then format version 1. */
const KRL_MAGIC = Uint8Array.from(Buffer.from('SSHKRL\n\0', 'latin1'));
const KRL_FORMAT_VERSION = 1;
const KRL_SECTION_CERTIFICATES = 1;
const KRL_SECTION_CERT_SERIAL_LIST = 0x20;

export interface KrlInput {
  /** krl_version: increases with every new list, so hosts can tell newer from older. */
  version: bigint;
  /** generated_date, seconds since the epoch. */
  generatedAt: bigint;
  comment?: string;
  /** One certificates section per CA key (a CA's wire blob, as certificates carry it). */
  certificates: ReadonlyArray<{ caKeyBlob: Uint8Array; serials: readonly bigint[] }>;
}

/**
 * Encodes an unsigned KRL. Serials are written sorted and without duplicates; a CA with no
 * serials gets no section, so a list that revokes nothing is just the header.
 */
export function encodeKrl(input: KrlInput): Uint8Array {
  const writer = new SshWriter()
    .writeRaw(KRL_MAGIC)
    .writeUint32(KRL_FORMAT_VERSION)
    .writeUint64(input.version)
    .writeUint64(input.generatedAt)
    .writeUint64(0n) // flags: none defined
    .writeString(new Uint8Array(0)) // reserved
    .writeString(input.comment ?? '');
  for (const { caKeyBlob, serials } of input.certificates) {
    const sorted = [...new Set(serials)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    if (sorted.length === 0) continue;
    writer.writeRaw(Uint8Array.of(KRL_SECTION_CERTIFICATES)).writeNestedString((section) => {
      section.writeString(caKeyBlob).writeString(new Uint8Array(0)); // ca_key, reserved
      section.writeRaw(Uint8Array.of(KRL_SECTION_CERT_SERIAL_LIST)).writeNestedString((list) => {
        for (const serial of sorted) list.writeUint64(serial);
      });
    });
  }
  return writer.toBytes();
}

/**
 * Reads a KRL of exactly the shape encodeKrl writes, so every list it accepts has one encoding and
 * writes back byte for byte: wrong magic or version, flags or reserved fields that are not empty, a
 * comment that is not UTF-8, other section types, a section that is not one non-empty list of
 * ascending serials, a CA key jitca cannot parse or trailing bytes are ERR_WIRE_* / ERR_KEY_*.
 * Hosts that fetch the KRL check it with this before replacing sshd's RevokedKeys: an unreadable
 * file there blocks every public-key login, and a list jitca would not write is not jitca's.
 */
export function decodeKrl(bytes: Uint8Array): KrlInput {
  const reader = new SshReader(bytes);
  const magic = reader.readBytes(KRL_MAGIC.length);
  if (!magic.every((byte, index) => byte === KRL_MAGIC[index])) throw krlInvalid('not an OpenSSH KRL (magic "SSHKRL\\n\\0" missing)');
  const formatVersion = reader.readUint32();
  if (formatVersion !== KRL_FORMAT_VERSION) throw krlInvalid(`KRL format version ${formatVersion} is not 1`);
  const version = reader.readUint64();
  const generatedAt = reader.readUint64();
  if (reader.readUint64() !== 0n) throw krlInvalid('KRL flags are set; jitca writes none');
  if (reader.readString().length !== 0) throw krlInvalid('KRL reserved field is not empty');
  const comment = reader.readStringUtf8();
  const certificates: Array<{ caKeyBlob: Uint8Array; serials: bigint[] }> = [];
  while (reader.remaining > 0) {
    const [type] = reader.readBytes(1);
    const section = new SshReader(reader.readString());
    if (type !== KRL_SECTION_CERTIFICATES) throw krlInvalid(`KRL section type ${type} is not one jitca writes`);
    const caKeyBlob = section.readString();
    decodePublicKeyBlob(caKeyBlob); // a CA key jitca can read, or ERR_KEY_* / ERR_WIRE_*
    if (section.readString().length !== 0) throw krlInvalid('KRL certificate section reserved field is not empty');
    const [subtype] = section.readBytes(1);
    const list = section.readString();
    section.ensureEnd('KRL certificate section');
    if (subtype !== KRL_SECTION_CERT_SERIAL_LIST || list.length === 0 || list.length % 8 !== 0) {
      throw krlInvalid(`KRL certificate subsection ${subtype} is not a non-empty list of serials`);
    }
    const serialReader = new SshReader(list);
    const serials: bigint[] = [];
    while (serialReader.remaining > 0) {
      const serial = serialReader.readUint64();
      const previous = serials[serials.length - 1];
      if (previous !== undefined && serial <= previous) throw krlInvalid('KRL serials are not in ascending order without repeats');
      serials.push(serial);
    }
    certificates.push({ caKeyBlob, serials });
  }
  return { version, generatedAt, comment, certificates };
}

function krlInvalid(message: string): JitcaError {
  return new JitcaError(ErrorCodes.WIRE_INVALID, message);
}
