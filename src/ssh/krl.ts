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
 * Reads a KRL of the shape encodeKrl writes (certificate sections with serial lists), strictly:
 * wrong magic or version, other section types, a serial list that is not whole uint64s, a CA key
 * jitca cannot parse or trailing bytes are ERR_WIRE_*. Hosts that fetch the KRL check it with
 * this before replacing sshd's RevokedKeys: an unreadable file there blocks every public-key login.
 */
export function decodeKrl(bytes: Uint8Array): KrlInput {
  const reader = new SshReader(bytes);
  const magic = reader.readBytes(KRL_MAGIC.length);
  if (!magic.every((byte, index) => byte === KRL_MAGIC[index])) throw new JitcaError(ErrorCodes.WIRE_INVALID, 'not an OpenSSH KRL (magic "SSHKRL\\n\\0" missing)');
  const formatVersion = reader.readUint32();
  if (formatVersion !== KRL_FORMAT_VERSION) throw new JitcaError(ErrorCodes.WIRE_INVALID, `KRL format version ${formatVersion} is not 1`);
  const version = reader.readUint64();
  const generatedAt = reader.readUint64();
  reader.readUint64(); // flags
  reader.readString(); // reserved
  const comment = Buffer.from(reader.readString()).toString('utf8');
  const certificates: Array<{ caKeyBlob: Uint8Array; serials: bigint[] }> = [];
  while (reader.remaining > 0) {
    const [type] = reader.readBytes(1);
    const section = new SshReader(reader.readString());
    if (type !== KRL_SECTION_CERTIFICATES) throw new JitcaError(ErrorCodes.WIRE_INVALID, `KRL section type ${type} is not one jitca writes`);
    const caKeyBlob = section.readString();
    decodePublicKeyBlob(caKeyBlob); // a CA key jitca can read, or ERR_KEY_* / ERR_WIRE_*
    section.readString(); // reserved
    const serials: bigint[] = [];
    while (section.remaining > 0) {
      const [subtype] = section.readBytes(1);
      const list = section.readString();
      if (subtype !== KRL_SECTION_CERT_SERIAL_LIST || list.length % 8 !== 0) {
        throw new JitcaError(ErrorCodes.WIRE_INVALID, `KRL certificate subsection ${subtype} is not a list of serials`);
      }
      const serialReader = new SshReader(list);
      while (serialReader.remaining > 0) serials.push(serialReader.readUint64());
    }
    certificates.push({ caKeyBlob, serials });
  }
  return { version, generatedAt, comment, certificates };
}
